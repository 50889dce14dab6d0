"""YAML loaded from libyaml's events: what `yaml.load(text, CSafeLoader)` gives, several times faster.

PyYAML's C loader parses in C but builds every node and every value in Python (a 3 MB
contract takes about 3 s, 0.2 s of it parsing). Here the C parser's event stream is turned
into values directly, with PyYAML's own implicit resolvers (YAML 1.1: `yes` is true, `0o17`
an int, `2001-12-14` a date) and its own constructors for the scalars that are not text,
anchors, aliases and `<<` merge keys. Anything rarer (explicit tags other than `!!str`,
`!!map` and `!!seq`, several documents, a mapping as a key) is left to PyYAML itself, so
it answers, or raises, exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_IMPLICIT = Resolver.yaml_implicit_resolvers
_CONSTRUCTOR = SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_MERGE = object()  # the `<<` key
_NO_KEY = object()
_PLAIN_TAGS = (None, "!")


class _Unusual(Exception):
    """Something the event builder leaves to PyYAML."""


def load(text: str) -> Any:
    """The single document in `text`, as `yaml.load(text, Loader=CSafeLoader)` returns it.

    Raises:
        yaml.YAMLError: what PyYAML raises for the text.
    """
    try:
        return _build(yaml.parse(text, Loader=LOADER))
    except _Unusual:
        return yaml.load(text, Loader=LOADER)  # the safe loader


class _Frame:
    __slots__ = ("container", "key", "merges")

    def __init__(self, container: Any) -> None:
        self.container = container
        self.key: Any = _NO_KEY
        self.merges: list[Any] = []


def _build(events: Iterable[Any]) -> Any:
    stack: list[_Frame] = []
    anchors: dict[str, Any] = {}
    root: Any = None
    documents = 0

    def add(value: Any) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        frame = stack[-1]
        if isinstance(frame.container, list):
            frame.container.append(value)
        elif frame.key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise _Unusual  # a collection as a key: PyYAML says why it cannot be one
            frame.key = value
        else:
            if frame.key is _MERGE:
                frame.merges.append(value)
            else:
                frame.container[frame.key] = value
            frame.key = _NO_KEY

    for event in events:
        kind = type(event)
        if kind is ScalarEvent:
            value = _scalar(event)
            if event.anchor:
                anchors[event.anchor] = value
            add(value)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.tag not in (*_PLAIN_TAGS, f"{_TAG}map" if kind is MappingStartEvent else f"{_TAG}seq"):
                raise _Unusual
            container: Any = {} if kind is MappingStartEvent else []
            if event.anchor:
                anchors[event.anchor] = container
            add(container)  # filled in place from here on
            stack.append(_Frame(container))
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            frame = stack.pop()
            if frame.merges:
                _merge(frame.container, frame.merges)
        elif kind is AliasEvent:
            if event.anchor not in anchors:
                raise _Unusual
            add(anchors[event.anchor])
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Unusual
    return root


def _scalar(event: ScalarEvent) -> Any:
    value: str = event.value
    if event.tag not in _PLAIN_TAGS:
        if event.tag == f"{_TAG}str":
            return value
        raise _Unusual
    if not event.implicit[0]:
        return value  # quoted: text
    for tag, pattern in _IMPLICIT.get(value[:1] if value else "", ()):
        if pattern.match(value):
            return _construct(tag, value)
    return value


def _construct(tag: str, value: str) -> Any:
    if tag == f"{_TAG}null":
        return None
    if tag == f"{_TAG}bool":
        return _CONSTRUCTOR.bool_values[value.lower()]
    if tag == f"{_TAG}merge":
        return _MERGE
    node = ScalarNode(tag, value)
    if tag == f"{_TAG}int":
        return _CONSTRUCTOR.construct_yaml_int(node)
    if tag == f"{_TAG}float":
        return _CONSTRUCTOR.construct_yaml_float(node)
    if tag == f"{_TAG}timestamp":
        return _CONSTRUCTOR.construct_yaml_timestamp(node)
    raise _Unusual  # `=` (value) and the like: PyYAML has no constructor and says so


def _merge(mapping: dict[Any, Any], merges: list[Any]) -> None:
    """Apply `<<` as PyYAML does: the mapping's own keys win, then earlier merged mappings over later ones."""
    sources: list[Any] = []
    for merged in merges:
        if isinstance(merged, dict):
            sources.append(merged)
        elif isinstance(merged, list) and all(isinstance(m, dict) for m in merged):
            sources.extend(merged)
        else:
            raise _Unusual
    own = dict(mapping)
    mapping.clear()
    for source in reversed(sources):
        mapping.update(source)
    mapping.update(own)

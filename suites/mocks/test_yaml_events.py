"""The event-built YAML loader gives what PyYAML's safe loader gives, value for value, error for error."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mocks.yaml_events import LOADER, load

ROOT = Path(__file__).resolve().parents[2]


def pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=LOADER)  # the safe loader


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and types compared too (1 is not 1.0 is not True)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("path", sorted((ROOT / "contracts").glob("*.yaml")), ids=lambda p: p.name)
def test_every_contract_loads_the_same(path: Path) -> None:
    text = path.read_text()
    assert same(load(text), pyyaml(text))


PLAIN = [
    "yes",
    "No",
    "ON",
    "off",
    "true",
    "False",
    "~",
    "null",
    "Null",
    "",
    "0",
    "-17",
    "+3",
    "0o17",
    "017",
    "0x1F",
    "0b101",
    "1_000",
    "190:20:30",
    "1.5",
    "-1e3",
    "1.0e+3",
    "6.8523015e+5",
    ".inf",
    "-.Inf",
    ".NaN",
    "1:30.5",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "2002-12-14T21:59:43Z",
    "1e3",
    "0.",
    "text",
    "12abc",
    "+",
    ".",
    "0x",
    "yes please",
    "<",
    "2001-13-01x",
    "1,000",
    "00:00",
]


@pytest.mark.parametrize("scalar", PLAIN)
def test_plain_scalars_resolve_as_yaml_1_1_says(scalar: str) -> None:
    text = f"value: {scalar}\nlisted: [{scalar}]\n"
    assert same(load(text), pyyaml(text)), (load(text), pyyaml(text))


@pytest.mark.parametrize(
    "text",
    [
        "a: 'yes'\nb: \"1\"\nc: !!str 12\nd: ! 3\n",  # quoted and !!str text stays text (`!` resolves)
        "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n",  # a merge key: own keys win
        "a: &a {k: 1}\nb: &b {k: 2, j: 2}\nc:\n  <<: [*a, *b]\n",  # earlier merged mappings win
        "s: &s hello\nt: *s\nu: &l [1, 2]\nv: *l\n",  # anchors on scalars and sequences
        "? [1, 2]\n: complex key\n",  # a sequence as a key: PyYAML's error
        "a: !!int '3'\nb: !!float '1'\n",  # explicit tags: left to PyYAML
        "a: 1\n---\nb: 2\n",  # two documents: PyYAML's error
        "",  # no document at all
        "- a\n- - b\n  - {c: [d, {e: f}]}\n",
        "a: 1\na: 2\n",  # a repeated key: the last wins
        "= : x\n",  # the value key: PyYAML has no constructor for it
        "a: *nowhere\n",  # an alias to no anchor: PyYAML's error
        "a: !!binary aGVsbG8=\n",
        "a: !custom x\n",
    ],
)
def test_rarer_documents_load_or_fail_as_pyyaml_does(text: str) -> None:
    try:
        expected = pyyaml(text)
    except yaml.YAMLError as exc:
        with pytest.raises(type(exc)):
            load(text)
        return
    assert same(load(text), expected)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text() | st.sampled_from(PLAIN),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text() | st.sampled_from(PLAIN), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, flow=st.sampled_from([None, True, False]), unicode=st.booleans())
def test_any_dumped_value_loads_the_same(value: Any, flow: bool | None, unicode: bool) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=unicode)
    assert same(load(text), pyyaml(text))

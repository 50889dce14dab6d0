"""Two versions of a schema, compared for one direction of the data.

A request schema is read by the provider: a revision that accepts less than the base
(narrower types, enums and limits; new required properties) may refuse what a client sends.
A response schema is read by the client: a revision that allows more than the base (wider
types, new enum values, looser limits, properties no longer required or gone) may hand a
client what it cannot read. So each change is first classified by what it does to the set of
valid values (`NARROWED`, `WIDENED`, `CHANGED` when neither contains the other), and the
direction turns that into a level (`level_of`); changes whose meaning is not a set relation
(a property removed, a default changed) carry their level.

`$ref`s are followed (a renamed component with the same content is no change); `allOf` is
merged into one schema first; `oneOf`/`anyOf` alternatives are paired by likeness; 3.0's
`nullable` has already become a `null` type (`mocks.document.to_2020_12`). The walk stops
at a reference it is already inside (recursive schemas) and remembers each pair of
references it compared, so a component shared by many operations is compared once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from harness.compat.findings import BREAKING, INFO, WARNING
from mocks.document import parts_of, pointer, target

REQUEST = "request"
RESPONSE = "response"
NARROWED = "narrowed"  # the revision allows fewer values
WIDENED = "widened"  # the revision allows more values
CHANGED = "changed"  # neither allows all the other's values

Where = tuple[Any, ...]


@dataclass(frozen=True)
class Change:
    """One change inside a schema; `field` is relative to the schema compared."""

    event: str
    kind: str
    pointer: str
    message: str
    field: tuple[str, ...] = ()
    level: str | None = None  # fixed, whatever the direction

    @property
    def whole(self) -> bool:
        """Whether the change is about the property `field` ends with as a whole (its message names it)."""
        return self.event.startswith(("property-", "new-required-property"))


def level_of(change: Change, direction: str) -> str:
    """The change's level for data going in `direction`."""
    if change.level is not None:
        return change.level
    if change.kind == CHANGED:
        return BREAKING
    risky = NARROWED if direction == REQUEST else WIDENED
    return BREAKING if change.kind == risky else INFO


def breaking_count(changes: list[Change], direction: str) -> int:
    """How many of `changes` are breaking for `direction`."""
    return sum(1 for c in changes if level_of(c, direction) == BREAKING)


_ORIGIN = "\x00origin"  # in a merged allOf: where each property was declared
_LOWER = ("minimum", "minLength", "minItems", "minProperties", "exclusiveMinimum")
_UPPER = ("maximum", "maxLength", "maxItems", "maxProperties", "exclusiveMaximum")
_LIMITS = (  # (label, stem, keyword, exclusive keyword, is a lower bound)
    ("the minimum", "minimum", "minimum", "exclusiveMinimum", True),
    ("the maximum", "maximum", "maximum", "exclusiveMaximum", False),
    ("the minimum length", "min-length", "minLength", None, True),
    ("the maximum length", "max-length", "maxLength", None, False),
    ("the minimum number of items", "min-items", "minItems", None, True),
    ("the maximum number of items", "max-items", "maxItems", None, False),
    ("the minimum number of properties", "min-properties", "minProperties", None, True),
    ("the maximum number of properties", "max-properties", "maxProperties", None, False),
)
_WIDER_FORMATS = {("int32", "int64"), ("float", "double")}
# keywords that say nothing about which values are valid
_ANNOTATIONS = frozenset(
    {"description", "title", "example", "examples", "discriminator", "deprecated", "externalDocs", "xml", "$comment"}
)


def followed(document: Mapping[str, Any], node: Any, where: Where) -> tuple[Any, Where]:
    """`node` with its local `$ref`s followed (a cycle stops where it closes), and where it ends up."""
    seen = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
        seen.add(node["$ref"])
        where = tuple(parts_of(node["$ref"]))
        node = target(document, node["$ref"])
    return node, where


class SchemaDiff:
    """Compares schemas of a base document with schemas of its revision."""

    def __init__(self, base: Mapping[str, Any], revision: Mapping[str, Any]) -> None:
        self._docs = (base, revision)
        self._memo: dict[tuple[Where, Where, str], list[Change]] = {}
        self._active: set[tuple[Where, Where, str]] = set()

    def compare(self, base: Any, revision: Any, where_b: Where, where_r: Where, direction: str) -> list[Change]:
        """Every change from `base` (at `where_b` in the base) to `revision` (at `where_r`)."""
        base, where_b = self._follow(0, base, where_b)
        revision, where_r = self._follow(1, revision, where_r)
        key = (where_b, where_r, direction)
        if key in self._memo:
            return self._memo[key]
        if key in self._active:
            return []  # a recursive schema: this pair is being compared further up
        self._active.add(key)
        try:
            changes = self._compare(base, revision, where_b, where_r, direction)
        finally:
            self._active.discard(key)
        self._memo[key] = changes
        return changes

    def _follow(self, side: int, node: Any, where: Where) -> tuple[dict[str, Any], Where]:
        node, where = followed(self._docs[side], node, where)
        if node is True or node is None:
            return {}, where
        if node is False:
            return {"not": {}}, where
        return dict(node), where

    def _flat(self, side: int, schema: dict[str, Any], where: Where) -> dict[str, Any]:
        """The schema with its `allOf` merged in (recording where each property came from)."""
        if not isinstance(schema.get("allOf"), list):
            return schema
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        merged[_ORIGIN] = {name: (*where, "properties", name) for name in merged.get("properties") or {}}
        for i, part in enumerate(schema["allOf"]):
            part, at = self._follow(side, part, (*where, "allOf", i))
            part = self._flat(side, part, at)
            origins = part.pop(_ORIGIN, {})
            for name in part.get("properties") or {}:
                merged[_ORIGIN].setdefault(name, origins.get(name, (*at, "properties", name)))
            _merge(merged, part)
        return merged

    def _compare(self, b: dict[str, Any], r: dict[str, Any], wb: Where, wr: Where, d: str) -> list[Change]:
        b, r = self._flat(0, b, wb), self._flat(1, r, wr)
        if b == r and "$ref" not in json.dumps(b, default=str):
            return []
        if _alternatives_key(b) or _alternatives_key(r):
            return self._alternatives(b, r, wb, wr, d)
        at = _Places(b, r, wb, wr)
        changes = [*_types(b, r, at), *_formats(b, r, at), *_enums(b, r, at), *_limits(b, r, at)]
        changes += [*_multiples(b, r, at), *_patterns(b, r, at), *_others(b, r, at, d)]
        changes += self._objects(b, r, wb, wr, d)
        changes += self._arrays(b, r, wb, wr, d)
        return changes

    def _objects(self, b: dict[str, Any], r: dict[str, Any], wb: Where, wr: Where, d: str) -> list[Change]:
        props_b, props_r = b.get("properties") or {}, r.get("properties") or {}
        req_b, req_r = set(b.get("required") or ()), set(r.get("required") or ())
        changes: list[Change] = []
        hidden = "readOnly" if d == REQUEST else "writeOnly"
        names = list(props_b) + [n for n in props_r if n not in props_b]
        names += sorted((req_b | req_r) - set(names))
        for name in names:
            at_b = b.get(_ORIGIN, {}).get(name, (*wb, "properties", name))
            at_r = r.get(_ORIGIN, {}).get(name, (*wr, "properties", name))
            sb = self._follow(0, props_b[name], at_b)[0] if name in props_b else None
            sr = self._follow(1, props_r[name], at_r)[0] if name in props_r else None
            found = _property_change(name, sb, sr, name in req_b, name in req_r, d, hidden, at_b, at_r)
            if found is not None:
                changes.append(found)
            whole = found is not None and found.event not in ("property-became-required", "property-became-optional")
            if not whole and sb is not None and sr is not None and not sb.get(hidden):
                inner = self.compare(props_b[name], props_r[name], at_b, at_r, d)
                changes += [dataclasses.replace(c, field=(name, *c.field)) for c in inner]
        changes += self._additional(b, r, wb, wr, d)
        return changes

    def _additional(self, b: dict[str, Any], r: dict[str, Any], wb: Where, wr: Where, d: str) -> list[Change]:
        ab, ar = _openness(b.get("additionalProperties")), _openness(r.get("additionalProperties"))
        if ab == ar == "any":
            return []
        at = _Places(b, r, wb, wr).at("additionalProperties")
        if ab == "schema" and ar == "schema":
            inner = self.compare(
                b["additionalProperties"],
                r["additionalProperties"],
                (*wb, "additionalProperties"),
                (*wr, "additionalProperties"),
                d,
            )
            return [dataclasses.replace(c, field=("*", *c.field)) for c in inner]
        if ab == ar:
            return []
        steps = {
            ("none", "any"): ("additional-properties-allowed", WIDENED, "properties not listed are now allowed"),
            ("none", "schema"): ("additional-properties-allowed", WIDENED, "properties not listed are now allowed"),
            ("any", "none"): ("additional-properties-forbidden", NARROWED, "properties not listed are now refused"),
            ("schema", "none"): ("additional-properties-forbidden", NARROWED, "properties not listed are now refused"),
            ("any", "schema"): ("additional-properties-constrained", NARROWED, "unlisted properties now have a schema"),
            ("schema", "any"): ("additional-properties-unconstrained", WIDENED, "unlisted properties may now be any"),
        }
        event, kind, message = steps[(ab, ar)]
        return [Change(event, kind, at, message)]

    def _arrays(self, b: dict[str, Any], r: dict[str, Any], wb: Where, wr: Where, d: str) -> list[Change]:
        changes: list[Change] = []
        unique = (bool(b.get("uniqueItems")), bool(r.get("uniqueItems")))
        if unique == (False, True):
            changes.append(
                Change(
                    "unique-items-set", NARROWED, _Places(b, r, wb, wr).at("uniqueItems"), "items must now be unique"
                )
            )
        elif unique == (True, False):
            changes.append(
                Change("unique-items-unset", WIDENED, _Places(b, r, wb, wr).at("uniqueItems"), "items may now repeat")
            )
        if isinstance(b.get("items"), Mapping) or isinstance(r.get("items"), Mapping):
            inner = self.compare(b.get("items", {}), r.get("items", {}), (*wb, "items"), (*wr, "items"), d)
            changes += [dataclasses.replace(c, field=("[]", *c.field)) for c in inner]
        prefix_b, prefix_r = b.get("prefixItems") or [], r.get("prefixItems") or []
        for i in range(max(len(prefix_b), len(prefix_r))):
            inner = self.compare(
                prefix_b[i] if i < len(prefix_b) else {},
                prefix_r[i] if i < len(prefix_r) else {},
                (*wb, "prefixItems", i),
                (*wr, "prefixItems", i),
                d,
            )
            changes += [dataclasses.replace(c, field=(str(i), *c.field)) for c in inner]
        return changes

    def _alternatives(self, b: dict[str, Any], r: dict[str, Any], wb: Where, wr: Where, d: str) -> list[Change]:
        kb, alts_b = self._alternatives_of(0, b, wb)
        kr, alts_r = self._alternatives_of(1, r, wr)
        changes: list[Change] = []
        if kb and kr and kb != kr and max(_non_null(alts_b), _non_null(alts_r)) > 1:
            kind = WIDENED if kr == "anyOf" else NARROWED
            event = "one-of-became-any-of" if kr == "anyOf" else "any-of-became-one-of"
            message = f"{kb} became {kr}: " + (
                "values may now match several" if kr == "anyOf" else "values must now match exactly one"
            )
            changes.append(Change(event, kind, pointer(*wr, kr), message))
        trials = [[self.compare(sb, sr, at_b, at_r, d) for sr, at_r in alts_r] for sb, at_b in alts_b]
        pairs = sorted(
            (
                (breaking_count(trials[i][j], d), len(trials[i][j]), abs(i - j), i, j)
                for i in range(len(alts_b))
                for j in range(len(alts_r))
            ),
        )
        used_b: set[int] = set()
        used_r: set[int] = set()
        for broken, _, _, i, j in pairs:
            if i in used_b or j in used_r:
                continue
            if broken and _type_set(alts_b[i][0]) != _type_set(alts_r[j][0]):
                continue  # unlike alternatives: one went, the other came
            used_b.add(i)
            used_r.add(j)
            changes += trials[i][j]
        for i, (_, at_b) in enumerate(alts_b):
            if i not in used_b:
                covered = any(breaking_count(trials[i][j], d) == 0 for j in range(len(alts_r)))
                level = INFO if covered else None
                message = "an alternative was removed" + (" (another one accepts its values)" if covered else "")
                changes.append(Change("alternative-removed", NARROWED, pointer(*at_b), message, level=level))
        for j, (_, at_r) in enumerate(alts_r):
            if j not in used_r:
                covered = any(breaking_count(trials[i][j], d) == 0 for i in range(len(alts_b)))
                level = INFO if covered else None
                message = "an alternative was added" + (" (an existing one accepts its values)" if covered else "")
                changes.append(Change("alternative-added", WIDENED, pointer(*at_r), message, level=level))
        return changes

    def _alternatives_of(
        self, side: int, s: dict[str, Any], where: Where
    ) -> tuple[str | None, list[tuple[dict[str, Any], Where]]]:
        key = _alternatives_key(s)
        if key is None:
            return None, [(s, where)]
        rest = {k: v for k, v in s.items() if k not in ("oneOf", "anyOf", _ORIGIN) and k not in _ANNOTATIONS}
        found = []
        for i, alt in enumerate(s[key]):
            alt, at = self._follow(side, alt, (*where, key, i))
            if rest:  # the siblings apply to every alternative: a schema of its own, at a place of its own
                alt = _merge(dict(rest), self._flat(side, alt, at))
                at = (*where, key, i)
            found.append((alt, at))
        return key, found


class _Places:
    """Where a keyword of the compared pair is: in the revision, or in the base when it is gone."""

    def __init__(self, b: Mapping[str, Any], r: Mapping[str, Any], wb: Where, wr: Where) -> None:
        self.b, self.r, self.wb, self.wr = b, r, wb, wr

    def at(self, keyword: str) -> str:
        """The pointer to `keyword` (or to the revision's schema, where neither has it)."""
        if keyword in self.r:
            return pointer(*self.wr, keyword)
        if keyword in self.b:
            return pointer(*self.wb, keyword)
        return pointer(*self.wr)


def _property_change(
    name: str,
    sb: Mapping[str, Any] | None,
    sr: Mapping[str, Any] | None,
    required_b: bool,
    required_r: bool,
    d: str,
    hidden: str,
    at_b: Where,
    at_r: Where,
) -> Change | None:
    """What happened to one property as a whole (None: nothing, or only inside it)."""
    hidden_b = bool(sb and sb.get(hidden))
    hidden_r = bool(sr and sr.get(hidden))
    if sb is not None and sr is None and not hidden_b:
        if d == REQUEST:
            text = f"`{name}` was removed: a client that sends it may be refused, or have it ignored"
        else:
            text = f"`{name}` was removed: a client that reads it no longer gets it"
        return Change("property-removed", CHANGED, pointer(*at_b), text, (name,), BREAKING)
    if sr is not None and (sb is None or hidden_b) and not hidden_r:
        if d == REQUEST and required_r:
            text = f"`{name}` is new and required: a request without it is refused"
            return Change("new-required-property", NARROWED, pointer(*at_r), text, (name,), BREAKING)
        text = f"`{name}` was added" + (" (optional)" if d == REQUEST else "")
        return Change("property-added", WIDENED, pointer(*at_r), text, (name,), INFO)
    if sb is not None and sr is not None and hidden_r and not hidden_b:
        if d == REQUEST:
            text = f"`{name}` became readOnly: the provider may now ignore or refuse what a client sends"
            return Change("property-became-read-only", CHANGED, pointer(*at_r, hidden), text, (name,), BREAKING)
        text = f"`{name}` became writeOnly: answers need no longer have it"
        return Change("property-became-write-only", CHANGED, pointer(*at_r, hidden), text, (name,), BREAKING)
    if hidden_b or hidden_r:
        return None
    where = pointer(*at_r) if sr is not None else pointer(*at_b)
    if required_r and not required_b:
        level = BREAKING if d == REQUEST else INFO
        text = f"`{name}` became required" + (": a request without it is refused" if d == REQUEST else "")
        return Change("property-became-required", NARROWED, where, text, (name,), level)
    if required_b and not required_r:
        level = BREAKING if d == RESPONSE else INFO
        text = f"`{name}` is no longer required" + (": an answer may now come without it" if d == RESPONSE else "")
        return Change("property-became-optional", WIDENED, where, text, (name,), level)
    return None


def _merge(into: dict[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    """`into` narrowed by `part`, as `allOf` means (the common cases: objects, limits, types, enums)."""
    for key, value in part.items():
        if key == _ORIGIN:
            continue
        if key not in into:
            into[key] = value
        elif key == "properties":
            merged = dict(into[key])
            for name, sub in value.items():
                merged[name] = {"allOf": [merged[name], sub]} if name in merged else sub
            into[key] = merged
        elif key == "required":
            into[key] = list(dict.fromkeys([*into[key], *value]))
        elif key == "type":
            common = _as_set(into[key]) & _as_set(value)
            into[key] = sorted(common) if len(common) != 1 else next(iter(common))
        elif key == "enum":
            into[key] = [v for v in into[key] if v in value]
        elif key in _LOWER and isinstance(value, (int, float)):
            into[key] = max(into[key], value)
        elif key in _UPPER and isinstance(value, (int, float)):
            into[key] = min(into[key], value)
        elif key == "additionalProperties" and value is False:
            into[key] = False
        elif key in ("readOnly", "writeOnly", "uniqueItems"):
            into[key] = bool(into[key]) or bool(value)
    return into


def _as_set(types: Any) -> set[str]:
    return {types} if isinstance(types, str) else set(types)


def _type_set(s: Mapping[str, Any]) -> frozenset[str] | None:
    types = s.get("type")
    return None if types is None else frozenset(_as_set(types))


def _accepts(types: frozenset[str] | None, kind: str) -> bool:
    return types is None or kind in types or (kind == "integer" and "number" in types)


def _shown(types: frozenset[str] | None) -> str:
    return "any" if types is None else " or ".join(sorted(types))


def _types(b: Mapping[str, Any], r: Mapping[str, Any], at: _Places) -> Iterator[Change]:
    tb, tr = _type_set(b), _type_set(r)
    if tb == tr:
        return
    where = at.at("type")
    if tb is None or tr is None:
        kind, event = (NARROWED, "type-set") if tr is not None else (WIDENED, "type-unset")
        yield Change(event, kind, where, f"the type was {_shown(tb)}, is now {_shown(tr)}")
        return
    if "null" in tb and "null" not in tr:
        yield Change("became-not-nullable", NARROWED, where, "null is no longer allowed")
    elif "null" in tr and "null" not in tb:
        yield Change("became-nullable", WIDENED, where, "null is now allowed")
    nb, nr = tb - {"null"}, tr - {"null"}
    if nb == nr:
        return
    removed = [t for t in nb if not _accepts(nr, t)]
    added = [t for t in nr if not _accepts(nb, t)]
    kind, event = (CHANGED, "type-changed")
    if not added:
        kind, event = NARROWED, "type-narrowed"
    elif not removed:
        kind, event = WIDENED, "type-widened"
    yield Change(event, kind, where, f"the type was {_shown(nb)}, is now {_shown(nr)}")


def _formats(b: Mapping[str, Any], r: Mapping[str, Any], at: _Places) -> Iterator[Change]:
    fb, fr = b.get("format"), r.get("format")
    if fb == fr:
        return
    where = at.at("format")
    if fb is None:
        yield Change("format-set", NARROWED, where, f"values must now have the format {fr}")
    elif fr is None:
        yield Change("format-unset", WIDENED, where, f"values no longer need the format {fb}")
    elif (fb, fr) in _WIDER_FORMATS:
        yield Change("format-widened", WIDENED, where, f"the format was {fb}, is now the wider {fr}")
    elif (fr, fb) in _WIDER_FORMATS:
        yield Change("format-narrowed", NARROWED, where, f"the format was {fb}, is now the narrower {fr}")
    else:
        yield Change("format-changed", CHANGED, where, f"the format was {fb}, is now {fr}")


def _values(s: Mapping[str, Any]) -> dict[str, Any] | None:
    if isinstance(s.get("enum"), list):
        return {json.dumps(v, sort_keys=True): v for v in s["enum"]}
    if "const" in s:
        return {json.dumps(s["const"], sort_keys=True): s["const"]}
    return None


def _listed(values: list[Any]) -> str:
    return ", ".join(json.dumps(v) for v in values)


def _enums(b: Mapping[str, Any], r: Mapping[str, Any], at: _Places) -> Iterator[Change]:
    eb, er = _values(b), _values(r)
    if eb == er:
        return
    where = at.at("enum" if "enum" in r or "enum" in b else "const")
    if eb is None and er is not None:
        yield Change("enum-set", NARROWED, where, f"values are now limited to {_listed(list(er.values()))}")
    elif er is None and eb is not None:
        yield Change("enum-unset", WIDENED, where, f"values are no longer limited to {_listed(list(eb.values()))}")
    elif eb is not None and er is not None:
        removed = [v for k, v in eb.items() if k not in er]
        added = [v for k, v in er.items() if k not in eb]
        if removed:
            yield Change("enum-value-removed", NARROWED, where, f"no longer allows {_listed(removed)}")
        if added:
            yield Change("enum-value-added", WIDENED, where, f"now allows {_listed(added)}")


def _bound(s: Mapping[str, Any], keyword: str, exclusive: str | None, lower: bool) -> tuple[Any, bool] | None:
    """The bound as (value, strict), the tighter of the inclusive and exclusive keywords."""
    found = []
    if isinstance(s.get(keyword), (int, float)) and not isinstance(s.get(keyword), bool):
        found.append((s[keyword], False))
    if exclusive and isinstance(s.get(exclusive), (int, float)) and not isinstance(s.get(exclusive), bool):
        found.append((s[exclusive], True))
    if not found:
        return None
    return max(found, key=lambda v: _tightness(v, lower))


def _tightness(bound: tuple[Any, bool], lower: bool) -> tuple[Any, bool]:
    value, strict = bound
    return (value, strict) if lower else (-value, strict)


def _shown_bound(bound: tuple[Any, bool]) -> str:
    return f"{bound[0]} (exclusive)" if bound[1] else str(bound[0])


def _limits(b: Mapping[str, Any], r: Mapping[str, Any], at: _Places) -> Iterator[Change]:
    for label, stem, keyword, exclusive, lower in _LIMITS:
        vb, vr = _bound(b, keyword, exclusive, lower), _bound(r, keyword, exclusive, lower)
        if vb == vr:
            continue
        where = at.at(keyword if keyword in r or keyword in b or exclusive is None else exclusive)
        if vb is None:
            yield Change(f"{stem}-set", NARROWED, where, f"{label} is now {_shown_bound(vr)}")  # type: ignore[arg-type]
        elif vr is None:
            yield Change(f"{stem}-unset", WIDENED, where, f"{label} ({_shown_bound(vb)}) was removed")
        else:
            narrower = _tightness(vr, lower) > _tightness(vb, lower)
            event = f"{stem}-{'increased' if narrower == lower else 'decreased'}"
            text = f"{label} was {_shown_bound(vb)}, is now {_shown_bound(vr)}"
            yield Change(event, NARROWED if narrower else WIDENED, where, text)


def _multiples(b: Mapping[str, Any], r: Mapping[str, Any], at: _Places) -> Iterator[Change]:
    mb, mr = b.get("multipleOf"), r.get("multipleOf")
    if mb == mr:
        return
    where = at.at("multipleOf")
    if mb is None:
        yield Change("multiple-of-set", NARROWED, where, f"values must now be multiples of {mr}")
        return
    if mr is None:
        yield Change("multiple-of-unset", WIDENED, where, f"values need no longer be multiples of {mb}")
        return
    old, new = Fraction(str(mb)), Fraction(str(mr))
    text = f"values must be multiples of {mr}, were of {mb}"
    if (old / new).denominator == 1:
        yield Change("multiple-of-widened", WIDENED, where, text)
    elif (new / old).denominator == 1:
        yield Change("multiple-of-narrowed", NARROWED, where, text)
    else:
        yield Change("multiple-of-changed", CHANGED, where, text)


def _patterns(b: Mapping[str, Any], r: Mapping[str, Any], at: _Places) -> Iterator[Change]:
    pb, pr = b.get("pattern"), r.get("pattern")
    if pb == pr:
        return
    where = at.at("pattern")
    if pb is None:
        yield Change("pattern-set", NARROWED, where, f"values must now match {pr}")
    elif pr is None:
        yield Change("pattern-unset", WIDENED, where, f"values need no longer match {pb}")
    else:
        yield Change("pattern-changed", CHANGED, where, f"the pattern was {pb}, is now {pr}")


def _others(b: Mapping[str, Any], r: Mapping[str, Any], at: _Places, d: str) -> Iterator[Change]:
    if d == REQUEST and b.get("default") != r.get("default") and ("default" in b or "default" in r):
        text = f"the default was {json.dumps(b.get('default'))}, is now {json.dumps(r.get('default'))}"
        yield Change(
            "default-changed",
            CHANGED,
            at.at("default"),
            text + ": a client that omits it gets another value",
            level=WARNING,
        )
    if json.dumps(b.get("not"), sort_keys=True) != json.dumps(r.get("not"), sort_keys=True):
        yield Change("not-changed", CHANGED, at.at("not"), "what the schema excludes (`not`) changed")
    disc_b, disc_r = (
        (b.get("discriminator") or {}).get("propertyName"),
        (r.get("discriminator") or {}).get("propertyName"),
    )
    if disc_b != disc_r:
        yield Change(
            "discriminator-changed", CHANGED, at.at("discriminator"), f"the discriminator was {disc_b}, is now {disc_r}"
        )
    if r.get("deprecated") and not b.get("deprecated"):
        yield Change("deprecated", WIDENED, at.at("deprecated"), "became deprecated", level=INFO)


def _openness(value: Any) -> str:
    if value is None or value is True or value == {}:
        return "any"
    if value is False or value == {"not": {}}:
        return "none"
    return "schema"


def _alternatives_key(s: Mapping[str, Any]) -> str | None:
    return next((k for k in ("oneOf", "anyOf") if isinstance(s.get(k), list)), None)


def _non_null(alternatives: list[tuple[dict[str, Any], Where]]) -> int:
    return sum(1 for s, _ in alternatives if _type_set(s) != frozenset({"null"}))

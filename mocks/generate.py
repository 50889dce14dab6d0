"""Values built from a JSON Schema (2020-12), deterministic by seed, for answers without an example.

`Generator.value(schema)` follows `$ref`s (a cycle is followed twice, then only what is
required), merges `allOf`, picks a branch of `oneOf`/`anyOf`, honours `const`, `enum`,
formats, patterns (through rstr), lengths, bounds and `multipleOf`, and leaves out
properties marked `writeOnly` (an answer never carries them). The caller validates what it
returns; `generate_valid` tries a few seeds and names the schema when none fits.
"""

from __future__ import annotations

import copy
import math
import random
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from rstr.xeger import Xeger

from mocks.document import target
from mocks.errors import ContractError

MAX_DEPTH = 8  # below this, objects carry only required properties and arrays their fewest items
REF_REPEATS = 2  # a `$ref` met this often on the way down is followed only for what is required
GIVE_UP_DEPTH = 64  # a schema that requires itself this deep has no finite instance
TRIES = 8
_REPEAT_LIMIT = 6  # `*` and `+` in a pattern repeat at most this many times more than their minimum
_EPOCH = datetime(2026, 1, 5, 9, 15, tzinfo=UTC)


class Unsatisfiable(Exception):
    """The generator found no value for a schema (`false`, an empty enum, bounds that cross)."""


class _Xeger(Xeger):
    """rstr's pattern strings, with short repeats: `[a-z]+` gives a word, not a paragraph."""

    extra = _REPEAT_LIMIT  # how many repeats more than its minimum a `*`, `+` or `{m,n}` may take

    def _handle_repeat(self, start_range: int, end_range: int, value: Any) -> str:
        return super()._handle_repeat(start_range, min(end_range, start_range + self.extra), value)


# Unicode properties (which Python's `re`, and so rstr, lacks) as characters that surely have them
_PROPERTY_CHARS = {
    "L": "a-zA-Z", "Lu": "A-Z", "Ll": "a-z", "Alpha": "a-zA-Z", "Alnum": "a-z0-9", "LD": "a-z0-9",
    "N": "0-9", "Nd": "0-9", "Digit": "0-9", "XDigit": "0-9a-f", "Hex_Digit": "0-9a-f",
    "Z": " ", "Zs": " ", "Space": " ", "P": ".", "Po": ".", "Punct": ".", "S": "+", "Sm": "+",
    "M": "\u0301", "Mn": "\u0301", "Print": "a-z", "Graph": "a-z", "all": "a-z", "ASCII": "a-z",
}  # fmt: skip
_SURROGATE = re.compile("[\ud800-\udfff]")
_PROPERTY = re.compile(r"\\([pP])\{(\^?)(\w+)\}")


def python_pattern(pattern: str) -> str:
    r"""`pattern` with `\p{L}`-style classes replaced by characters that have them (for generating only)."""
    if "\\p" not in pattern and "\\P" not in pattern:
        return pattern
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        found = _PROPERTY.match(pattern, index) if char == "\\" else None
        if found is not None:
            negated = (found.group(1) == "P") != bool(found.group(2))
            chars = "a-z" if negated and found.group(3) not in ("L", "Ll", "Alpha") else "0-9" if negated else None
            chars = chars or _PROPERTY_CHARS.get(found.group(3), "a-z")
            out.append(chars if in_class else f"[{chars}]")
            index = found.end()
            continue
        if char == "\\":
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return "".join(out)


def generate_valid(
    document: Mapping[str, Any], schema: Any, validator: Any, seed: int, where: str, hidden: str = "writeOnly"
) -> Any:
    """A value of `schema` that `validator` accepts: examples in the schema first, then other seeds.

    Raises:
        ContractError: no try gave a valid value (naming `where` and the last problem).
    """
    problem = "no value could be built"
    for attempt in range(TRIES):
        generator = Generator(document, seed + attempt, hidden, use_examples=attempt == 0)
        try:
            value = generator.value(schema)
        except Unsatisfiable as exc:
            problem = str(exc)
            continue
        if validator is None or validator.is_valid(value):
            return value
        problem = next(iter(validator.iter_errors(value))).message
    raise ContractError(f"cannot build an answer valid against the schema at {where}: {problem}")


class Generator:
    """Builds one value at a time; the same seed and schema give the same value."""

    def __init__(
        self, document: Mapping[str, Any], seed: int, hidden: str = "writeOnly", use_examples: bool = True
    ) -> None:
        self._document = document
        self._rng = random.Random(seed)
        self._hidden = hidden
        self._use_examples = use_examples
        self._xeger = _Xeger(self._rng)
        self._variant = 0  # set while an array of unique items asks for a different value

    def value(self, schema: Any) -> Any:
        """A value of `schema` (not yet validated: see `generate_valid`)."""
        return self._value(schema, 0, ())

    def _value(self, schema: Any, depth: int, refs: tuple[str, ...]) -> Any:
        if depth > GIVE_UP_DEPTH:
            raise Unsatisfiable(f"the schema requires itself without end (through {refs[-1] if refs else 'nesting'})")
        if schema is True or schema is None:
            return "string"
        if schema is False:
            raise Unsatisfiable("the schema is false: no value is valid")
        schema, refs = self._follow(schema, refs)
        minimal = depth >= MAX_DEPTH or any(refs.count(r) > REF_REPEATS for r in refs)
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if self._use_examples:
            for key in ("examples", "example", "default"):
                if key in schema:
                    found = schema[key]
                    if key == "examples":
                        if not isinstance(found, list) or not found:
                            continue
                        found = found[0]
                    return copy.deepcopy(found)
        if "enum" in schema:
            return self._enum(schema["enum"], minimal)
        if "allOf" in schema:
            return self._value(self._merged(schema, refs), depth + 1, refs)
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                rest = {k: v for k, v in schema.items() if k != key}
                branch = self._branch(schema[key], minimal)
                return self._value({"allOf": [rest, branch]} if rest else branch, depth + 1, refs)
        kind = self._kind(schema, minimal)
        return self._by_kind[kind](self, schema, depth, refs, minimal)

    def _follow(self, schema: Mapping[str, Any], refs: tuple[str, ...]) -> tuple[Mapping[str, Any], tuple[str, ...]]:
        while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            found = target(self._document, ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            refs = (*refs, ref)
            if refs.count(ref) > GIVE_UP_DEPTH // 8:
                raise Unsatisfiable(f"the schema requires itself without end (through {ref})")
            schema = {"allOf": [found, siblings]} if siblings else found
        if not isinstance(schema, Mapping):
            raise Unsatisfiable(f"not a schema: {schema!r}")
        return schema, refs

    def _enum(self, values: list[Any], minimal: bool) -> Any:
        if not values:
            raise Unsatisfiable("an empty enum")
        chosen = [v for v in values if v is not None] or values
        return copy.deepcopy(chosen[0] if minimal else self._rng.choice(chosen))

    def _branch(self, branches: list[Any], minimal: bool) -> Any:
        if minimal:  # the way out of a cycle: a branch without a reference, null when there is one
            plain = [b for b in branches if isinstance(b, Mapping) and "$ref" not in b]
            nulls = [b for b in plain if b.get("type") == "null"]
            if nulls or plain:
                return (nulls or plain)[0]
        return self._rng.choice(branches)

    def _merged(self, schema: Mapping[str, Any], refs: tuple[str, ...]) -> dict[str, Any]:
        """`allOf` folded into one schema: properties and requirements joined, bounds tightened."""
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part, _ = self._follow(part, refs)
            if "allOf" in part:
                part = self._merged(part, refs)
            _merge_into(merged, part)
        return merged

    def _kind(self, schema: Mapping[str, Any], minimal: bool) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            options = [k for k in kind if k != "null"]
            if not options:
                return "null"
            kind = "null" if minimal and "null" in kind else self._rng.choice(options)
        if isinstance(kind, str):
            return kind
        if any(k in schema for k in ("properties", "required", "additionalProperties", "minProperties")):
            return "object"
        if any(k in schema for k in ("items", "prefixItems", "minItems", "contains")):
            return "array"
        if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
            return "number"
        return "string"

    def _object(self, schema: Mapping[str, Any], depth: int, refs: tuple[str, ...], minimal: bool) -> dict[str, Any]:
        properties: Mapping[str, Any] = schema.get("properties") or {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        result: dict[str, Any] = {}
        for name, sub in properties.items():
            if name not in required and (minimal or self._is_hidden(sub, refs)):
                continue
            result[name] = self._value(sub, depth + 1, refs)
        extra = schema.get("additionalProperties", True)
        extra_schema = extra if isinstance(extra, Mapping) else {}
        for name in required:
            if name not in result:
                result[name] = self._value(_pattern_property(schema, name) or extra_schema, depth + 1, refs)
        wanted = int(schema.get("minProperties", 0))
        if not properties and isinstance(extra, Mapping) and not minimal:
            wanted = max(wanted, 1)  # a map's answer shows one entry
        index = 1
        while len(result) < wanted:
            name = self._pattern_key(schema) or f"additionalProp{index}"
            index += 1
            if name not in result:
                result[name] = self._value(_pattern_property(schema, name) or extra_schema, depth + 1, refs)
            if index > wanted + 16:
                raise Unsatisfiable("cannot name enough properties")
        limit = schema.get("maxProperties")
        if isinstance(limit, int) and len(result) > limit:
            for name in [n for n in result if n not in required][: len(result) - limit]:
                del result[name]
        return result

    def _pattern_key(self, schema: Mapping[str, Any]) -> str | None:
        patterns = schema.get("patternProperties") or {}
        names = schema.get("propertyNames") or {}
        pattern = next(iter(patterns), None) or (names.get("pattern") if isinstance(names, Mapping) else None)
        return self._from_pattern(pattern) if pattern else None

    def _is_hidden(self, sub: Any, refs: tuple[str, ...]) -> bool:
        try:
            resolved, _ = self._follow(sub, refs)
        except Unsatisfiable:
            return False
        return resolved.get(self._hidden) is True

    def _array(self, schema: Mapping[str, Any], depth: int, refs: tuple[str, ...], minimal: bool) -> list[Any]:
        prefix: list[Any] = schema["prefixItems"] if isinstance(schema.get("prefixItems"), list) else []
        items = schema.get("items", {})
        low = int(schema.get("minItems", 0))
        high = schema.get("maxItems")
        count = max(low, len(prefix) if not minimal else min(len(prefix), low), 0 if minimal else 1)
        if isinstance(high, int):
            count = min(count, high)
        if items is False:
            count = min(count, len(prefix))
        result: list[Any] = []
        attempts = 0
        while len(result) < count:
            index = len(result)
            sub = prefix[index] if index < len(prefix) else (items if isinstance(items, Mapping) else {})
            value = self._value(sub, depth + 1, refs)
            attempts += 1
            if schema.get("uniqueItems") and value in result:
                if attempts > count * 8:
                    raise Unsatisfiable("cannot find enough distinct items")
                self._variant += 1
                continue
            result.append(value)
        self._variant = 0
        contains = schema.get("contains")
        if isinstance(contains, Mapping) and (not isinstance(high, int) or len(result) < high):
            result.append(self._value(contains, depth + 1, refs))
        return result

    def _string(self, schema: Mapping[str, Any], depth: int, refs: tuple[str, ...], minimal: bool) -> str:
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        pattern = schema.get("pattern")
        maker = _FORMATS.get(str(schema.get("format", "")))
        if isinstance(pattern, str):
            if maker is not None:  # a format's value that also matches the pattern keeps both
                text = maker(self._rng)
                if _python_match(pattern, text) and low <= len(text) and (high is None or len(text) <= high):
                    return text
            return self._patterned(pattern, low, high)
        if maker is not None:
            text = maker(self._rng)
            if low <= len(text) and (high is None or len(text) <= high):
                return text
        text = f"string{self._variant}" if self._variant else "string"
        if len(text) < low:
            text += "x" * (low - len(text))
        if isinstance(high, int):
            text = text[:high]
        return text

    def _patterned(self, pattern: str, low: int, high: int | None) -> str:
        """A string of `pattern` within the lengths: repeats widen while it is too short, narrow while too long."""
        text = ""
        for _ in range(TRIES):
            text = self._from_pattern(pattern)
            if len(text) < low:
                self._xeger.extra = max(self._xeger.extra * 2, low)
            elif high is not None and len(text) > high:
                self._xeger.extra = max(self._xeger.extra // 2, 0)
            else:
                break
        self._xeger.extra = _REPEAT_LIMIT
        return text

    def _from_pattern(self, pattern: str) -> str:
        try:
            text = self._xeger.xeger(python_pattern(pattern))
            return _SURROGATE.sub("a", text)  # a class up to U+FFFF holds halves of pairs: no JSON has them
        except (re.error, KeyError, IndexError, ValueError) as exc:
            raise Unsatisfiable(f"cannot build a string for the pattern {pattern!r}: {exc}") from exc

    def _integer(self, schema: Mapping[str, Any], depth: int, refs: tuple[str, ...], minimal: bool) -> int:
        low, high = _bounds(schema, integer=True)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            first, last = math.ceil(low / step), math.floor(high / step)
            if first > last:
                raise Unsatisfiable(f"no multiple of {step} lies in [{low}, {high}]")
            return int(self._rng.randint(int(first), int(last)) * step)
        if low > high:
            raise Unsatisfiable(f"the bounds [{low}, {high}] cross")
        return self._rng.randint(int(low), int(high))

    def _number(self, schema: Mapping[str, Any], depth: int, refs: tuple[str, ...], minimal: bool) -> float | int:
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            low, high = _bounds(schema, integer=False)
            first, last = math.ceil(low / step), math.floor(high / step)
            if first > last:
                raise Unsatisfiable(f"no multiple of {step} lies in [{low}, {high}]")
            multiple = self._rng.randint(int(first), int(last)) * step
            return round(multiple, 10) if isinstance(step, float) else multiple
        low, high = _bounds(schema, integer=False)
        if low > high:
            raise Unsatisfiable(f"the bounds [{low}, {high}] cross")
        value = round(self._rng.uniform(low, high), 2)
        return value if _inside(schema, value) else (low + high) / 2

    def _boolean(self, schema: Mapping[str, Any], depth: int, refs: tuple[str, ...], minimal: bool) -> bool:
        return self._rng.random() < 0.5

    def _null(self, schema: Mapping[str, Any], depth: int, refs: tuple[str, ...], minimal: bool) -> None:
        return None

    _by_kind: ClassVar[dict[str, Callable[..., Any]]] = {
        "object": _object,
        "array": _array,
        "string": _string,
        "integer": _integer,
        "number": _number,
        "boolean": _boolean,
        "null": _null,
    }


def _merge_into(merged: dict[str, Any], part: Mapping[str, Any]) -> None:
    for key, value in part.items():
        if key == "properties":
            properties = dict(merged.get("properties") or {})
            for name, sub in value.items():
                properties[name] = {"allOf": [properties[name], sub]} if name in properties else sub
            merged["properties"] = properties
        elif key == "required":
            merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
        elif key in ("minimum", "minLength", "minItems", "minProperties", "exclusiveMinimum") and key in merged:
            merged[key] = max(merged[key], value)
        elif key in ("maximum", "maxLength", "maxItems", "maxProperties", "exclusiveMaximum") and key in merged:
            merged[key] = min(merged[key], value)
        elif key == "type" and "type" in merged:
            left = set(merged["type"] if isinstance(merged["type"], list) else [merged["type"]])
            right = set(value if isinstance(value, list) else [value])
            if ("number" in left and "integer" in right) or ("integer" in left and "number" in right):
                left, right = left | {"integer"}, right | {"integer"}
            both = sorted(left & right)
            merged["type"] = both[0] if len(both) == 1 else both
        elif key == "enum" and "enum" in merged:
            merged["enum"] = [v for v in merged["enum"] if v in value]
        elif key in ("oneOf", "anyOf") and key in merged:
            merged.setdefault("allOf", []).append({key: value})
        elif key not in merged:
            merged[key] = value


def _python_match(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _pattern_property(schema: Mapping[str, Any], name: str) -> Any:
    for pattern, sub in (schema.get("patternProperties") or {}).items():
        try:
            if re.search(pattern, name):
                return sub
        except re.error:
            continue
    return None


def _bounds(schema: Mapping[str, Any], integer: bool) -> tuple[float, float]:
    low: Any = schema.get("minimum")
    high: Any = schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        edge = schema["exclusiveMinimum"]
        low = max(low, edge) if low is not None else edge
        low = math.floor(low) + 1 if integer else low + _nudge(low)
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        edge = schema["exclusiveMaximum"]
        high = min(high, edge) if high is not None else edge
        high = math.ceil(high) - 1 if integer else high - _nudge(high)
    if integer and schema.get("format") == "int32":
        low = max(low, -(2**31)) if low is not None else None
        high = min(high, 2**31 - 1) if high is not None else None
    if low is None and high is None:
        low, high = 1, 1000
    elif low is None:
        low = min(high - 1000, 0)
    elif high is None:
        high = low + 1000
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return low, high


def _nudge(value: float) -> float:
    return max(abs(value) * 1e-9, 1e-6)


def _inside(schema: Mapping[str, Any], value: float) -> bool:
    low, high = _bounds(schema, integer=False)
    return low <= value <= high


def _moment(rng: random.Random) -> datetime:
    return _EPOCH + timedelta(seconds=rng.randint(0, 365 * 86400))


def _ipv6(rng: random.Random) -> str:
    return ":".join(f"{rng.randint(0, 0xFFFF):x}" for _ in range(8))


_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date-time": lambda rng: _moment(rng).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "date": lambda rng: _moment(rng).strftime("%Y-%m-%d"),
    "time": lambda rng: _moment(rng).strftime("%H:%M:%SZ"),
    "duration": lambda rng: f"P{rng.randint(1, 30)}D",
    "email": lambda rng: f"user{rng.randint(1, 999)}@example.com",
    "idn-email": lambda rng: f"user{rng.randint(1, 999)}@example.com",
    "hostname": lambda rng: f"host{rng.randint(1, 999)}.example.com",
    "idn-hostname": lambda rng: f"host{rng.randint(1, 999)}.example.com",
    "ipv4": lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    "ipv6": _ipv6,
    "uri": lambda rng: f"https://example.com/items/{rng.randint(1, 999)}",
    "url": lambda rng: f"https://example.com/items/{rng.randint(1, 999)}",
    "iri": lambda rng: f"https://example.com/items/{rng.randint(1, 999)}",
    "uri-reference": lambda rng: f"/items/{rng.randint(1, 999)}",
    "iri-reference": lambda rng: f"/items/{rng.randint(1, 999)}",
    "uri-template": lambda rng: "https://example.com/items/{id}",
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "json-pointer": lambda rng: "/items/0",
    "relative-json-pointer": lambda rng: "0/items",
    "regex": lambda rng: "^[a-z]+$",
    "byte": lambda rng: "bW9jaw==",
    "binary": lambda rng: "mock",
    "password": lambda rng: "secret",
}

"""Rubric regexes that cannot hang scoring, and a warning for the patterns that would.

Every regex a rubric gives (the `regex` check's `pattern`, `tool_args`' `args_regex`, a
`json_schema` check's `pattern`) is matched here, with the `regex` package rather than `re`:
it takes a `timeout`, so a pattern with catastrophic backtracking (`^(a|aa)+$` on forty
`a`s and a `!`) stops after `MATCH_SECONDS` instead of blocking the event loop forever.
A check that runs out of time raises `RegexTimeout`, which scores the episode as an error
naming the criterion, the pattern and the text's length; the run goes on.

`nested_quantifier` is the structural test behind `agentopt validate`'s warning: a group
repeated more than once whose body can itself match the same text in several ways
(`(a+)+`, `(\\w+\\s?)+`, `(a*)*`, `(a|aa)+`). It walks Python's own parse of the pattern.
"""

from __future__ import annotations

import re
import time
from typing import Any

import regex

from agentopt.scoring.base import CheckError

try:  # Python 3.11+
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10 and older
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

MATCH_SECONDS = 1.0  # the most one check may spend matching regexes against one trace

IGNORECASE, MULTILINE, DOTALL = regex.IGNORECASE, regex.MULTILINE, regex.DOTALL


class RegexTimeout(CheckError):
    """A rubric regex took longer than its time limit on a trace's text."""


def compile_problem(pattern: Any) -> str | None:
    """Why `pattern` does not compile, as Python's `re` says it (the syntax users read about),
    then as the `regex` engine that scores it says it; None when both accept it."""
    try:
        re.compile(pattern)
        regex.compile(pattern)
    except (re.error, regex.error, TypeError, ValueError) as exc:
        return f"regex does not compile: {exc}"
    return None


def seconds(limit: float) -> str:
    return f"{limit:g} s"


class Matcher:
    """Searches for one check: all of them together get `limit` seconds.

    A check may search many texts (every tool result, every call's arguments); the limit is
    shared so that a slow pattern costs a trace at most `limit`, not `limit` per text."""

    def __init__(self, limit: float = MATCH_SECONDS):
        self.limit = limit
        self.deadline = time.monotonic() + limit

    def search(self, pattern: str, text: str, flags: int = 0) -> Any:
        """`regex.search(pattern, text, flags)`, or RegexTimeout when the time is up."""
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return regex.search(pattern, text, flags, timeout=remaining)
        except TimeoutError:
            raise RegexTimeout(
                f"regex {_shown(pattern)} took longer than {seconds(self.limit)} on {len(text)} characters"
            ) from None


def search(pattern: str, text: str, flags: int = 0, limit: float = MATCH_SECONDS) -> Any:
    """One search with its own time limit."""
    return Matcher(limit).search(pattern, text, flags)


def _shown(pattern: str, most: int = 60) -> str:
    text = pattern if len(pattern) <= most else pattern[: most - 1] + "…"
    return repr(text)


# --- the nested-quantifier warning -------------------------------------------------------------

_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT)  # POSSESSIVE_REPEAT and atomic groups never backtrack
_MAXREPEAT = _sre.MAXREPEAT
ANY = None  # a first-character set that may hold anything


def nested_quantifier(pattern: Any) -> str | None:
    """A warning when `pattern` repeats a group that can match the same text in several ways.

    Structural, so it errs on the side of silence for what it cannot see; None when the
    pattern looks safe or does not parse as a Python regex."""
    if not isinstance(pattern, str):
        return None
    try:
        parsed = _sre_parse.parse(pattern)
    except (Exception, RecursionError):  # noqa: BLE001 - compile_problem reports what does not parse
        return None
    try:
        found = _find(list(parsed))
    except RecursionError:
        return None
    if found is None:
        return None
    return (
        f"regex {_shown(pattern)} nests quantifiers ({found}): it can take exponential time on text that "
        f"almost matches; scoring stops it after {seconds(MATCH_SECONDS)} and counts an error"
    )


def _find(items: list[tuple[Any, Any]]) -> str | None:
    """Why some repeat in `items` is ambiguous, or None."""
    for op, av in items:
        if op in _REPEATS:
            low, high, body = av
            body = list(body)
            if high > 1 and (why := _ambiguous(body)):
                return why
            if found := _find(body):
                return found
        else:
            for child in _children(op, av):
                if found := _find(child):
                    return found
    return None


def _children(op: Any, av: Any) -> list[list[tuple[Any, Any]]]:
    if op is _sre.SUBPATTERN:
        return [list(av[-1])]
    if op is _sre.BRANCH:
        return [list(alt) for alt in av[1]]
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return [list(av[1])]
    if op is _sre.ATOMIC_GROUP or op is _sre.POSSESSIVE_REPEAT:
        return [list(av if op is _sre.ATOMIC_GROUP else av[2])]
    if op is _sre.GROUPREF_EXISTS:
        return [list(b) for b in av[1:] if b is not None]
    return []


def _ambiguous(body: list[tuple[Any, Any]]) -> str | None:
    """Why a repeated body can split one text several ways, or None: alternatives that can
    start alike, or a variable-length part at its end that can start like the body itself
    (so a character may end one repetition or start the next)."""
    for op, av in _walk(body):
        if op is _sre.BRANCH:
            firsts = [_first(list(alt)) for alt in av[1] if alt]
            if any(_overlap(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1:]):
                return "alternatives that can match the same text inside a repeated group"
    start = _first(body)
    for first, unbounded in _tail_parts(body):
        if _overlap(first, start):
            return "a quantifier inside a repeated group" if unbounded else "an optional end that can start the next repetition"
    return None


def _tail_parts(items: list[tuple[Any, Any]]):
    """(first characters, unbounded) of each variable-length part that can end `items`."""
    for op, av in reversed(items):
        if op is _sre.ATOMIC_GROUP or op is _sre.POSSESSIVE_REPEAT:
            return
        if op in _REPEATS:
            low, high, inner = av
            if low != high:
                yield _first(list(inner)), high == _MAXREPEAT
            yield from _tail_parts(list(inner))
        elif op is _sre.BRANCH:
            alternatives = [list(alt) for alt in av[1]]
            if any(_nullable(alt) for alt in alternatives):
                yield frozenset().union(*(f for f in map(_first, alternatives) if f is not ANY)) if all(
                    _first(alt) is not ANY for alt in alternatives) else ANY, False
            for alt in alternatives:
                yield from _tail_parts(alt)
        elif op is _sre.SUBPATTERN:
            yield from _tail_parts(list(av[-1]))
        if not _first_of(op, av)[1]:
            return  # this part must match: what comes before it cannot end the body


def _walk(items: list[tuple[Any, Any]]):
    """Every node under `items`, except inside atomic groups and possessive repeats."""
    for op, av in items:
        if op is _sre.ATOMIC_GROUP or op is _sre.POSSESSIVE_REPEAT:
            continue
        yield op, av
        if op in _REPEATS:
            yield from _walk(list(av[2]))
        else:
            for child in _children(op, av):
                yield from _walk(child)


def _overlap(a: frozenset[int] | None, b: frozenset[int] | None) -> bool:
    if a is not None and not a or b is not None and not b:
        return False  # nothing on one side
    return a is ANY or b is ANY or bool(a & b)


def _first(items: list[tuple[Any, Any]]) -> frozenset[int] | None:
    """The characters a match of `items` can start with (ANY when unknown or too many)."""
    found: set[int] = set()
    for op, av in items:
        part, nullable = _first_of(op, av)
        if part is ANY:
            return ANY
        found |= part
        if not nullable:
            break
    return frozenset(found)


def _first_of(op: Any, av: Any) -> tuple[frozenset[int] | None, bool]:
    """(first characters, whether the node can match the empty string) for one node."""
    if op is _sre.LITERAL:
        return frozenset({av}), False
    if op is _sre.IN:
        chars: set[int] = set()
        for kind, value in av:
            if kind is _sre.LITERAL:
                chars.add(value)
            elif kind is _sre.RANGE and value[1] - value[0] < 256:
                chars.update(range(value[0], value[1] + 1))
            else:
                return ANY, False  # negated sets, categories, wide ranges
        return frozenset(chars), False
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
        return frozenset(), True
    if op in _REPEATS or op is _sre.POSSESSIVE_REPEAT:
        inner = _first(list(av[2]))
        return inner, av[0] == 0 or inner == frozenset()
    if op is _sre.SUBPATTERN or op is _sre.ATOMIC_GROUP:
        body = list(av[-1] if op is _sre.SUBPATTERN else av)
        return _first(body), _nullable(body)
    if op is _sre.BRANCH:
        alternatives = [list(alt) for alt in av[1]]
        firsts = [_first(alt) for alt in alternatives]
        if any(f is ANY for f in firsts):
            return ANY, True
        return frozenset().union(*(f for f in firsts if f is not ANY)), any(_nullable(alt) for alt in alternatives)
    return ANY, True  # ANY, NOT_LITERAL, CATEGORY, GROUPREF, ...: unknown


def _nullable(items: list[tuple[Any, Any]]) -> bool:
    return all(_first_of(op, av)[1] for op, av in items)

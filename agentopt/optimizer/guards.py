"""Checks on a proposed component against known mutator failure modes.

A mutator LLM tends to (1) grow a prompt without bound and (2) paste train examples into it,
which inflates train scores without generalising. `too_long` and `copied_from` catch both;
each returns a one-line reason, or None when the text is fine. `check_text` runs every guard
on a proposed text: the reflect and skill operators share it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from agentopt.optimizer.types import ProposalContext

_WORD = re.compile(r"\w+")  # words are runs of letters/digits/underscore: punctuation is ignored
_MAX_EXCERPT_WORDS = 12


def token_count(text: str) -> int:
    """Approximate tokens as ceil(characters / 4), the usual rule of thumb for English BPE
    tokenizers. No tokenizer is loaded: this is a budget guard, not an exact count."""
    return math.ceil(len(text) / 4)


def too_long(text: str, max_tokens: int) -> str | None:
    tokens = token_count(text)
    if tokens <= max_tokens:
        return None
    return f"too long: ~{tokens} tokens > max {max_tokens}"


def copied_from(text: str, sources: Sequence[str], min_words: int = 8) -> str | None:
    """A quoted excerpt of the first source sharing >= `min_words` consecutive words with `text`.

    Words compare case- and punctuation-insensitively. Sources shorter than `min_words` words
    are ignored (short phrases are shared by chance). `text` is shingled once, so checking
    many sources costs one set lookup per source word.
    """
    if min_words < 1:
        raise ValueError("min_words must be at least 1")
    words = [w.casefold() for w in _WORD.findall(text)]
    shingles = {tuple(words[i : i + min_words]) for i in range(len(words) - min_words + 1)}
    if not shingles:
        return None
    for source in sources:
        matches = list(_WORD.finditer(source))
        source_words = [m.group().casefold() for m in matches]
        for i in range(len(source_words) - min_words + 1):
            if tuple(source_words[i : i + min_words]) in shingles:
                return _excerpt(source, matches, i, min_words, source_words, shingles)
    return None


def _excerpt(
    source: str, matches: list[re.Match[str]], start: int, min_words: int, source_words: list[str], shingles: set[tuple[str, ...]]
) -> str:
    """The copied run as the source writes it (on one line), extended while the copy continues."""
    end = start + min_words  # exclusive word index
    while end < len(source_words) and tuple(source_words[end - min_words + 1 : end + 1]) in shingles:
        end += 1
    last = min(end, start + _MAX_EXCERPT_WORDS) - 1
    quoted = " ".join(source[matches[start].start() : matches[last].end()].split())
    return f'"{quoted}{"..." if last < end - 1 else ""}"'


def check_text(text: str, current: str, ctx: ProposalContext, max_tokens: int) -> str | None:
    """Why a proposed text must be rejected, or None when it may be evaluated."""
    if not text.strip():
        return "empty"
    if text.strip() == current.strip():
        return "unchanged"
    if reason := too_long(text, max_tokens):
        return reason
    if excerpt := copied_from(text, ctx.train_inputs):
        return f"copies a train input: {excerpt}"
    return None

"""Which few-shot examples an episode's prompt shows: the first k, or the k most similar.

`loop.example_pick: similar` turns the spec's examples into a pool: each episode shows the
`loop.examples_shown` examples whose inputs are most like the task's input, most similar
first (retrieval of demonstrations, as in DSPy's KNNFewShot). Similarity is TF-IDF cosine
over lower-cased words, computed over the pool itself: no embedding model to download, and
the pool is small (tens of examples), so a few dictionaries are all it takes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

from agentopt.spec.agent import AgentSpec, Example

_WORD = re.compile(r"[^\W\d_]{3,}")  # words of 3+ letters: numbers and ids say little about the kind of task


def shown_examples(spec: AgentSpec, task_input: str | None) -> tuple[Example, ...]:
    """The examples the prompt shows for a task whose input is `task_input`."""
    k = spec.loop.examples_shown
    pool = spec.examples
    if spec.loop.example_pick == "similar" and task_input and len(pool) > 1:
        return tuple(pool[i] for i in most_similar(tuple(e.input for e in pool), task_input, k))
    return pool if k is None else pool[:k]


def most_similar(documents: tuple[str, ...], query: str, k: int | None) -> list[int]:
    """Indices of the k documents most similar to `query`, best first; ties keep pool order."""
    index = _Index.build(documents)
    q = index.vector(query)
    scores = [sum(weight * doc.get(word, 0.0) for word, weight in q.items()) for doc in index.vectors]
    order = sorted(range(len(documents)), key=lambda i: -scores[i])  # stable: ties keep pool order
    return order if k is None else order[:k]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


class _Index:
    def __init__(self, documents: tuple[str, ...]):
        counts = Counter(word for doc in documents for word in set(_words(doc)))
        n = len(documents)
        self.idf = {word: math.log((n + 1) / (c + 1)) + 1.0 for word, c in counts.items()}
        self.default_idf = math.log(n + 1) + 1.0  # a word no example has
        self.vectors = [self.vector(doc) for doc in documents]

    @staticmethod
    @lru_cache(maxsize=64)
    def build(documents: tuple[str, ...]) -> _Index:
        return _Index(documents)

    def vector(self, text: str) -> dict[str, float]:
        tf = Counter(_words(text))
        weights = {word: count * self.idf.get(word, self.default_idf) for word, count in tf.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {word: w / norm for word, w in weights.items()}

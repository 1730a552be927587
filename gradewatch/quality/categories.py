"""Misspelled categories: map a spelling to the one allowed category it is closest to.

Distance is the optimal-string-alignment (Damerau-Levenshtein) distance, so a swap of two
neighbouring letters ("hgih") costs one edit like a missing or doubled letter ("femal",
"meddium"). A spelling is fixed only when it is unambiguous: within the tolerance of one
category and strictly closer to it than to any other ("fmale" is one edit from both "female"
and "male", so it stays a bad value).
"""

from __future__ import annotations

from functools import lru_cache

from gradewatch import schema

MIN_LENGTH = 3  # shorter spellings are too easily one edit away from anything


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap neighbours)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _tolerance(key: str) -> int:
    return 1 if len(key) <= 5 else 2


@lru_cache(maxsize=4096)
def match_category(column: str, spelling: str) -> str | None:
    """The allowed category ``spelling`` unambiguously misspells, else None.

    ``spelling`` is already trimmed and lower-cased (see :func:`schema.normalise_category`).
    """
    if len(spelling) < MIN_LENGTH:
        return None
    aliases = schema.CATEGORY_ALIASES[column]
    best: dict[str, int] = {}
    for key, category in aliases.items():
        if len(key) < MIN_LENGTH or abs(len(key) - len(spelling)) > _tolerance(key):
            continue
        distance = edit_distance(spelling, key)
        if distance <= _tolerance(key):
            best[category] = min(best.get(category, distance), distance)
    if not best:
        return None
    ranked = sorted(best.items(), key=lambda item: item[1])
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None  # as close to two categories: ambiguous
    return ranked[0][0]

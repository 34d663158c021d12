"""The fideslang taxonomy, loaded only when a file is checked, and spelling suggestions.

Importing fideslang costs about a fifth of a second, so nothing here imports it until a
declaration file written by a person is checked.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

#: How alike a word and a candidate must be (difflib ratio) to suggest the candidate.
_CUTOFF = 0.7
#: Advantage of a candidate from an earlier group over one from the next group.
_PREFERENCE = 0.05


@dataclass(frozen=True)
class Vocabulary:
    """Keys of the fideslang default taxonomy."""

    categories: frozenset[str]
    uses: frozenset[str]

    @property
    def roots(self) -> frozenset[str]:
        """First words of every key (``user``, ``system``, ``essential`` …)."""
        return frozenset(key.split(".")[0] for key in self.categories | self.uses)


@cache
def fideslang_vocabulary() -> Vocabulary:
    """The data categories and data uses of fideslang's default taxonomy."""
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return Vocabulary(
        categories=frozenset(item.fides_key for item in DEFAULT_TAXONOMY.data_category),
        uses=frozenset(item.fides_key for item in DEFAULT_TAXONOMY.data_use),
    )


def closest(word: str, *groups: Iterable[str]) -> str | None:
    """The candidate most like ``word``, if one is close enough to be a likely typo.

    Earlier groups are preferred: a near-tie goes to the candidate of the earlier group.
    """
    best: tuple[float, str] | None = None
    for rank, group in enumerate(groups):
        for candidate in group:
            if candidate == word:
                continue
            matcher = difflib.SequenceMatcher(None, word, candidate)
            if matcher.real_quick_ratio() < _CUTOFF or matcher.quick_ratio() < _CUTOFF:
                continue
            score = matcher.ratio()
            if score < _CUTOFF:
                continue
            score -= rank * _PREFERENCE
            if best is None or score > best[0] or (score == best[0] and candidate < best[1]):
                best = (score, candidate)
    return None if best is None else best[1]


def did_you_mean(word: str, *groups: Iterable[str]) -> str | None:
    """``"did you mean X?"`` for the closest candidate (see :func:`closest`), else ``None``."""
    match = closest(word, *groups)
    return None if match is None else f"did you mean {match}?"

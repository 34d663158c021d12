"""A problem found in a declaration file: where it is, what is wrong, how to fix it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

#: A location inside the document, as pydantic reports it: keys and list indexes.
Loc = tuple[str | int, ...]

#: Severity of a problem that makes the declarations invalid.
ERROR = "error"
#: Severity of a recommendation: the declarations are valid, something could be better.
ADVICE = "advice"

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(loc: Sequence[object]) -> str:
    """Render ``("purposes", 1, "categories", 0)`` as ``purposes[1].categories[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{str(part)!r}]"
    return out


@dataclass(frozen=True)
class Problem:
    """One problem in a declaration file.

    ``line`` is 1-based and ``None`` when the problem has no place in the file (the file
    is missing, for instance). ``path`` is empty for problems about the whole file.
    ``severity`` is :data:`ERROR`, or :data:`ADVICE` for a recommendation.
    """

    file: str
    line: int | None
    path: str
    message: str
    fix: str | None = None
    severity: str = ERROR

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        message = f"advice: {self.message}" if self.severity == ADVICE else self.message
        text = f"{where}: {self.path}: {message}" if self.path else f"{where}: {message}"
        return f"{text}; {self.fix}" if self.fix else text

    def as_advice(self) -> Problem:
        return replace(self, severity=ADVICE)

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Issue:
    """A problem before it is placed in a file: a location in the document and the words."""

    loc: Loc
    message: str
    fix: str | None = None

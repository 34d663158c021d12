"""Tutela: makes a privacy policy true, enforces it and proves it.

``from tutela import Tutela`` gives the in-process library (imported on first use, so the
command line and the server start without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tutela.library import Tutela

__all__ = ["Tutela", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Tutela":
        from tutela.library import Tutela

        return Tutela
    raise AttributeError(f"module 'tutela' has no attribute {name!r}")

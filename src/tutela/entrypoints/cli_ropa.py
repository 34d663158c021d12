"""``tutela ropa``: the records of processing activities (GDPR art. 30) as CSV, JSON or
JSON-LD, from the declarations in force or from a declaration file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from tutela.declarations.models import Declarations


class RopaFormat(StrEnum):
    csv = "csv"
    json = "json"
    jsonld = "jsonld"


def ropa(
    fmt: Annotated[
        RopaFormat,
        typer.Option("--format", help="csv (one row per processing activity), json or jsonld."),
    ] = RopaFormat.json,
    declarations: Annotated[
        Path | None,
        typer.Option(
            "--declarations",
            "-d",
            help="Build from this declaration file instead of the declarations in force; "
            "needs no data directory.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not to stdout.")
    ] = None,
) -> None:
    """Print the records of processing activities (GDPR art. 30), one per purpose."""
    from tutela.services.ropa import build_ropa
    from tutela.services.ropa_formats import render

    text = render(build_ropa(_declarations(declarations)), fmt.value)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8", newline="")
    typer.echo(f"records of processing written to {output}", err=True)


def _declarations(file: Path | None) -> Declarations:
    if file is not None:
        from tutela.declarations import load_declarations

        return load_declarations(file)
    from tutela.domain.errors import ConfigurationError
    from tutela.entrypoints.cli import runtime

    with runtime() as rt:
        loaded: Declarations | None = rt.declarations
    if loaded is None:
        raise ConfigurationError(
            "no declarations are loaded; run `tutela init --declarations FILE` first, or "
            "pass --declarations FILE"
        )
    return loaded

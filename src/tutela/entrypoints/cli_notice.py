"""``tutela notice``: the privacy notice generated from the declarations.

Registered on the main application in :mod:`tutela.entrypoints.cli`; its shared helpers
are imported when a command runs, so the two modules never import each other at load time.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

notice_app = typer.Typer(
    help="The privacy notice, generated from the declarations, in each declared language.",
    no_args_is_help=True,
)


class Format(StrEnum):
    html = "html"
    md = "md"
    json = "json"


@notice_app.command("render")
def notice_render(
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Language, e.g. de (default: the declared default language)."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="html, md or json.")] = Format.html,
    declarations: Annotated[
        Path | None,
        typer.Option(
            "--declarations",
            "-d",
            help="Render this declaration file instead of the declarations in force "
            "(no data directory needed).",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Tutela's public address; the notice links its privacy center at "
            "BASE/privacy/ (default: TUTELA_PUBLIC_URL).",
        ),
    ] = None,
) -> None:
    """Render the privacy notice as HTML, Markdown or JSON."""
    from tutela.entrypoints.cli import fail, runtime, settings
    from tutela.notices import build_facts, choose_language, render

    if declarations is not None:
        from tutela.declarations import load_declarations

        declared = load_declarations(declarations)
        base = base_url or settings().public_url
    else:
        from tutela.declarations import Declarations

        with runtime() as rt:
            in_force = rt.ctx.declarations
            base = base_url or rt.settings.public_url
        if not isinstance(in_force, Declarations):
            fail(
                "no declarations are loaded in this data directory; load them with "
                "`tutela init --declarations FILE`, or render a file with --declarations FILE"
            )
        declared = in_force
    language, fallback = choose_language(declared, [lang] if lang else None)
    if fallback:
        typer.echo(
            f"notice: no notice in {lang!r}; written in the default language {language} "
            f"(declared: {', '.join(declared.languages)})",
            err=True,
        )
    text = render(build_facts(declared, base_url=base), language, fmt.value)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"notice ({language}, {fmt.value}) written to {output}", err=True)

"""The documentation covers every command, option, setting and API route, and nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tutela.entrypoints.cli import app as cli_app
from tutela.settings import SETTINGS, Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


def sections(text: str) -> dict[str, str]:
    """Heading text (backticks removed) -> its section, down to the next heading as high."""
    lines = text.splitlines()
    found: dict[str, str] = {}
    for start, line in enumerate(lines):
        match = HEADING.match(line)
        if match is None:
            continue
        level = len(match.group(1))
        end = len(lines)
        for later in range(start + 1, len(lines)):
            other = HEADING.match(lines[later])
            if other is not None and len(other.group(1)) <= level:
                end = later
                break
        found[match.group(2).replace("`", "").strip()] = "\n".join(lines[start:end])
    return found


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


ROOT_COMMAND = typer.main.get_command(cli_app)
COMMANDS = [(" ".join(path), command) for path, command in walk(ROOT_COMMAND) if path]
CLI_SECTIONS = sections((DOCS / "cli.md").read_text(encoding="utf-8"))


def long_options(command: Any) -> list[str]:
    return [
        opt
        for param in command.params
        if param.param_type_name == "option"
        for opt in param.opts
        if opt.startswith("--")
    ]


def arguments(command: Any) -> list[str]:
    return [p.name.upper() for p in command.params if p.param_type_name == "argument"]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_documented(path: str, command: Any) -> None:
    heading = f"tutela {path}"
    assert heading in CLI_SECTIONS, f"docs/cli.md needs a heading `{heading}`"
    section = CLI_SECTIONS[heading]
    for option in long_options(command):
        assert re.search(rf"{re.escape(option)}\b", section), (
            f"docs/cli.md: section `{heading}` does not mention {option}"
        )
    for argument in arguments(command):
        assert argument in section, f"docs/cli.md: section `{heading}` does not name {argument}"


def test_global_options_documented() -> None:
    section = CLI_SECTIONS.get("Global options", "")
    for option in long_options(ROOT_COMMAND):
        assert option in section, f"docs/cli.md: `Global options` does not mention {option}"


def test_no_documented_command_is_missing() -> None:
    real = {f"tutela {path}" for path, _ in COMMANDS}
    documented = {h for h in CLI_SECTIONS if h.startswith("tutela ")}
    assert documented <= real, f"docs/cli.md documents unknown commands: {documented - real}"


def test_exit_codes_documented() -> None:
    section = CLI_SECTIONS.get("Exit codes", "")
    for code in ("| 0 |", "| 1 |", "| 2 |"):
        assert code in section


SETTINGS_TEXT = (DOCS / "settings.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_setting_documented(name: str) -> None:
    default, _ = SETTINGS[name]
    rows = [line for line in SETTINGS_TEXT.splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"docs/settings.md needs a table row for {name}"
    assert f"`{default}`" in rows[0], f"docs/settings.md: row of {name} lacks its default"


def test_no_unknown_setting_documented() -> None:
    envvars = {
        envvar
        for _, command in walk(ROOT_COMMAND)
        for param in command.params
        for envvar in ([param.envvar] if isinstance(param.envvar, str) else param.envvar or [])
    }
    mentioned = set(re.findall(r"\bTUTELA_[A-Z0-9_]+\b", SETTINGS_TEXT))
    unknown = mentioned - set(SETTINGS) - envvars
    assert not unknown, f"docs/settings.md mentions settings that do not exist: {unknown}"


def test_keyring_format_documented() -> None:
    for needle in ("tutela-keyring/1", '"keks"', '"active"', '"index"', "0600", "chmod 600"):
        assert needle in SETTINGS_TEXT


@pytest.fixture(scope="module")
def api_routes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    from fastapi.routing import APIRoute

    from tutela.bootstrap import initialize
    from tutela.entrypoints.api import create_app

    settings = Settings.from_env(
        env={"TUTELA_ARGON2_MEMORY_KIB": "1024", "TUTELA_ARGON2_TIME_COST": "1"},
        data_dir=tmp_path_factory.mktemp("docs") / "data",
    )
    initialize(settings, ROOT / "examples" / "desktop-vendor.yml")
    api = create_app(settings)
    try:
        return sorted(
            (method, route.path)
            for route in api.routes
            if isinstance(route, APIRoute) and route.include_in_schema
            for method in route.methods
        )
    finally:
        api.state.runtime.close()


API_SECTIONS = sections((DOCS / "api.md").read_text(encoding="utf-8"))


def test_every_route_documented(api_routes: list[tuple[str, str]]) -> None:
    assert api_routes, "the API has no routes"
    missing = [f"{m} {p}" for m, p in api_routes if f"{m} {p}" not in API_SECTIONS]
    assert not missing, f"docs/api.md needs a heading for each of: {missing}"


def test_no_documented_route_is_missing(api_routes: list[tuple[str, str]]) -> None:
    real = {f"{m} {p}" for m, p in api_routes}
    documented = {h for h in API_SECTIONS if re.match(r"^(GET|POST|PUT|PATCH|DELETE) /", h)}
    assert documented <= real, f"docs/api.md documents unknown routes: {documented - real}"


def test_api_error_statuses_documented() -> None:
    from tutela.domain import errors
    from tutela.entrypoints.api_errors import STATUS

    text = (DOCS / "api.md").read_text(encoding="utf-8")
    assert '{"error": {"code"' in text
    kinds = [k for k in vars(errors).values() if isinstance(k, type)]
    for kind in kinds:
        if not issubclass(kind, errors.TutelaError) or kind is errors.TutelaError:
            continue
        status = next((s for k, s in STATUS if issubclass(kind, k)), 400)
        rows = [line for line in text.splitlines() if line.startswith(f"| {status} |")]
        assert any(f"`{kind.code}`" in row for row in rows) or status == 400, (
            f"docs/api.md: no row `| {status} |` naming `{kind.code}`"
        )
    assert any(line.startswith("| 400 |") for line in text.splitlines())

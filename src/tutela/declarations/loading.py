"""Reading a declaration file and reporting every problem in it, each with its line."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from tutela.declarations.draft import Draft
from tutela.declarations.messages import issue_from_error
from tutela.declarations.models import Declarations
from tutela.declarations.positions import Document, YamlSyntaxError, read_yaml
from tutela.declarations.problems import Issue, Problem, format_path
from tutela.declarations.validation import check_draft, retention_coverage
from tutela.domain.errors import DeclarationInvalid

#: Name used for text that did not come from a file.
DEFAULT_SOURCE = "<declarations>"


def parse_declarations(
    text: str, source_name: str = DEFAULT_SOURCE, *, base_dir: Path | None = None
) -> Declarations:
    """Parse and fully check declarations written as YAML.

    Raises :class:`~tutela.domain.errors.DeclarationInvalid` listing every problem.
    ``base_dir`` is the directory dataset files are relative to; without it their
    existence is not checked.
    """
    declarations, problems = _check(text, source_name, base_dir)
    if declarations is None or problems:
        raise DeclarationInvalid(problems)
    return declarations


def load_declarations(path: str | os.PathLike[str]) -> Declarations:
    """Read, parse and fully check a declaration file; see :func:`parse_declarations`."""
    file = Path(path)
    text, problem = _read(file)
    if problem is not None:
        raise DeclarationInvalid([problem])
    return parse_declarations(text, str(path), base_dir=file.parent)


def check_text(
    text: str, source_name: str = DEFAULT_SOURCE, *, base_dir: Path | None = None
) -> list[Problem]:
    """Every problem of the declarations in ``text``; an empty list when they are valid."""
    return _check(text, source_name, base_dir)[1]


def check_file(path: str | os.PathLike[str]) -> list[Problem]:
    """Every problem of a declaration file; an empty list when it is valid."""
    file = Path(path)
    text, problem = _read(file)
    if problem is not None:
        return [problem]
    return check_text(text, str(path), base_dir=file.parent)


def _read(file: Path) -> tuple[str, Problem | None]:
    try:
        return file.read_text(encoding="utf-8"), None
    except FileNotFoundError:
        message, fix = "file not found", "check the path, or start from one of the examples"
    except UnicodeDecodeError as error:
        message, fix = f"not UTF-8 text ({error.reason})", "save the file as UTF-8"
    except OSError as error:
        message, fix = f"cannot read the file: {error.strerror}", "check its permissions"
    return "", Problem(str(file), None, "", message, fix)


def _check(
    text: str, source: str, base_dir: Path | None
) -> tuple[Declarations | None, list[Problem]]:
    try:
        document = read_yaml(text)
    except YamlSyntaxError as error:
        return None, [Problem(source, error.line, "", error.message, error.fix)]
    data = document.data
    if not isinstance(data, Mapping):
        message = "the file is empty" if data is None else "the file must be a mapping of keys"
        fix = "start with 'tutela: 1', then organization:, jurisdictions:, … (see the examples)"
        return None, [Problem(source, document.lines.get(()), "", message, fix)]
    issues = list(document.issues)
    declarations: Declarations | None = None
    try:
        declarations = Declarations.model_validate(data)
        draft = Draft.from_model(declarations)
    except ValidationError as error:
        issues.extend(issue_from_error(e) for e in _meaningful(error.errors(include_url=False)))
        draft = Draft.salvage(data)
    issues.extend(check_draft(draft, base_dir=base_dir))
    from tutela.declarations.datasets import check_dataset_files  # only when files are read

    dataset_issues, dataset_problems = check_dataset_files(draft, base_dir)
    issues.extend(dataset_issues)
    if declarations is not None and not issues and not dataset_problems:
        issues.extend(retention_coverage(draft))
    return declarations, _place(issues, source, document) + dataset_problems


def _meaningful(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop "too short" for a list whose items failed: pydantic counts only the valid ones."""
    failed_items = {tuple(e["loc"][:-1]) for e in errors if e["loc"]}
    failed_items |= {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    return [e for e in errors if not (e["type"] == "too_short" and tuple(e["loc"]) in failed_items)]


def _place(issues: list[Issue], source: str, document: Document) -> list[Problem]:
    problems: list[Problem] = []
    for issue in issues:
        problem = Problem(
            source, document.line_of(issue.loc), format_path(issue.loc), issue.message, issue.fix
        )
        if problem not in problems:
            problems.append(problem)
    problems.sort(key=lambda p: p.line if p.line is not None else 0)
    return problems

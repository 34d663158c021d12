"""Reading dataset files, each problem placed at its file, line and path.

:func:`read_dataset_text` reads the YAML and the shape of every dataset (a broken dataset is
left out, the others kept); :func:`check_sources` adds the checks that need every dataset
at hand (references between files, reachability); :func:`load_datasets` does both and
raises :class:`~tutela.domain.errors.DeclarationInvalid` if anything is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from tutela.datasets.models import Dataset
from tutela.declarations.messages import issue_from_error
from tutela.declarations.positions import Document, YamlSyntaxError, read_yaml
from tutela.declarations.problems import Issue, Loc, Problem, format_path
from tutela.domain.errors import DeclarationInvalid


@dataclass
class DatasetSource:
    """What was read from one dataset file: its datasets (with their index) and problems."""

    name: str
    document: Document = field(default_factory=lambda: Document(data=None))
    datasets: list[tuple[int, Dataset]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def place(self, issue: Issue) -> Problem:
        loc = issue.loc
        return Problem(
            self.name, self.document.line_of(loc), format_path(loc), issue.message, issue.fix
        )

    def add(self, issues: Iterable[Issue]) -> None:
        for issue in issues:
            problem = self.place(issue)
            if problem not in self.problems:
                self.problems.append(problem)


def read_dataset_text(text: str, name: str) -> DatasetSource:
    """Datasets of a file's text; shape problems recorded, nothing raised."""
    source = DatasetSource(name)
    try:
        source.document = read_yaml(text)
    except YamlSyntaxError as error:
        source.problems.append(Problem(name, error.line, "", error.message, error.fix))
        return source
    source.add(source.document.issues)
    _alias_old_meta(source.document)
    data = source.document.data
    items = data.get("dataset") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        source.add(
            [
                Issue(
                    (),
                    "not a fideslang dataset file: no 'dataset:' list",
                    "start the file with 'dataset:' and list the datasets under it, as "
                    "Fides writes them",
                )
            ]
        )
        return source
    for index, item in enumerate(items):
        loc: Loc = ("dataset", index)
        try:
            source.datasets.append((index, Dataset.model_validate(item)))
        except ValidationError as error:
            source.add(
                issue_from_error({**e, "loc": (*loc, *e["loc"])})
                for e in error.errors(include_url=False)
            )
    return source


def _alias_old_meta(document: Document) -> None:
    """Problems found under ``fides_meta`` are placed at a ``fidesops_meta`` key too."""
    for loc, line in list(document.lines.items()):
        if "fidesops_meta" in loc:
            alias = tuple("fides_meta" if part == "fidesops_meta" else part for part in loc)
            document.lines.setdefault(alias, line)


def read_dataset_file(path: str | os.PathLike[str]) -> DatasetSource:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        source = DatasetSource(str(path))
        reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else "cannot read it"
        source.problems.append(
            Problem(str(path), None, "", f"dataset file: {reason}", "check the path and file")
        )
        return source
    return read_dataset_text(text, str(path))


def check_sources(
    sources: Iterable[DatasetSource],
    known_categories: frozenset[str] | None = None,
    *,
    elsewhere: Iterable[str] = (),
) -> None:
    """Add the semantic problems of every dataset, references between files included.

    ``elsewhere`` names datasets that exist in files not given here: references to them are
    accepted unchecked. ``known_categories`` ``None`` leaves data categories unchecked.
    """
    from tutela.datasets.validation import check_dataset

    source_list = list(sources)
    everything = {
        dataset.fides_key: dataset for source in source_list for _, dataset in source.datasets
    }
    outside = frozenset(elsewhere) - everything.keys()
    for source in source_list:
        seen: dict[str, int] = {}
        for index, dataset in source.datasets:
            loc: Loc = ("dataset", index)
            if dataset.fides_key in seen:
                source.add(
                    [
                        Issue(
                            (*loc, "fides_key"),
                            f"{dataset.fides_key}: declared twice (first at "
                            f"dataset[{seen[dataset.fides_key]}])",
                            "give each dataset its own fides_key",
                        )
                    ]
                )
            seen.setdefault(dataset.fides_key, index)
            source.add(check_dataset(dataset, loc, everything, known_categories, outside))


def load_datasets(
    path: str | os.PathLike[str],
    *,
    known_categories: frozenset[str] | None = None,
    elsewhere: Iterable[str] = (),
) -> tuple[Dataset, ...]:
    """The datasets of a file, fully checked; ``known_categories`` defaults to fideslang's,
    ``elsewhere`` names datasets of other files this one may reference."""
    source = read_dataset_file(path)
    if known_categories is None:
        from tutela.declarations.taxonomy import fideslang_vocabulary

        known_categories = fideslang_vocabulary().categories
    check_sources([source], known_categories, elsewhere=elsewhere)
    if source.problems:
        raise DeclarationInvalid(sorted(source.problems, key=lambda p: p.line or 0))
    return tuple(dataset for _, dataset in source.datasets)

"""Reading YAML while remembering the line of every key and list item.

PyYAML composes the text into nodes that carry their position; this module turns the nodes
into plain Python data and a table from document location to 1-based line, so that a
problem found later (by pydantic or by a semantic check) can name its line.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tutela.declarations.problems import Issue, Loc

if TYPE_CHECKING:
    import yaml


class YamlSyntaxError(Exception):
    """The text is not YAML; ``line`` is 1-based or ``None`` when unknown."""

    def __init__(self, message: str, line: int | None, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.fix = fix


@dataclass
class Document:
    """Plain data read from YAML, the line of each location, and problems found on the way."""

    data: object
    lines: dict[Loc, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def line_of(self, loc: Loc) -> int | None:
        """Line of the deepest known location on ``loc``'s way (the location or a parent)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


def read_yaml(text: str) -> Document:
    """Read one YAML document; raise :class:`YamlSyntaxError` if the text is not YAML."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        document = Document(data=None)
        if node is not None:
            document.lines[()] = node.start_mark.line + 1
            document.data = _Builder(loader, document).build(node, ())
        return document
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        message = ": ".join(part for part in (error.context, error.problem) if part)
        raise YamlSyntaxError(
            f"not valid YAML: {message or error}", line, _fix(text, line)
        ) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(f"not valid YAML: {error}", None, _fix(text, None)) from None
    finally:
        loader.dispose()


#: Aliases can make a small text expand enormously; no declaration file comes near this.
_MAX_VALUES = 200_000

_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


def _fix(text: str, line: int | None) -> str:
    lines = text.splitlines()
    if line is not None and 0 < line <= len(lines) and "\t" in lines[line - 1]:
        return "indent with spaces; YAML does not allow tabs"
    return "correct the YAML near this line"


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, document: Document) -> None:
        self.loader = loader
        self.document = document
        self.active: set[int] = set()
        self.built = 0
        # Key nodes written in each mapping, as opposed to those merged in with "<<".
        self.written: dict[int, set[int]] = {}

    def build(self, node: yaml.Node, loc: Loc) -> object:
        import yaml

        if id(node) in self.active:
            self.document.issues.append(
                Issue(loc, "an alias refers to itself", "remove the recursive alias")
            )
            return None
        self.built += 1
        if self.built > _MAX_VALUES:
            raise YamlSyntaxError(
                f"the document expands to more than {_MAX_VALUES} values",
                node.start_mark.line + 1,
                "write the values out instead of repeating aliases",
            )
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
                self.document.issues.append(
                    Issue(loc, f"{node.tag}: YAML tags are not supported", "remove the tag")
                )
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc)
            if isinstance(node, yaml.SequenceNode):
                return self._sequence(node, loc)
            return self.loader.construct_object(node, deep=True)
        finally:
            self.active.discard(id(node))

    def _place(self, loc: Loc, key_node: yaml.Node, value_node: yaml.Node) -> None:
        import yaml

        # A scalar is reported where it is; a list or mapping where its key is.
        anchor = value_node if isinstance(value_node, yaml.ScalarNode) else key_node
        self.document.lines.setdefault(loc, anchor.start_mark.line + 1)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[object, object]:
        if id(node) not in self.written:
            self.written[id(node)] = {id(key_node) for key_node, _ in node.value}
            self.loader.flatten_mapping(node)
        written = self.written[id(node)]
        result: dict[object, object] = {}
        first_line: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, Hashable):
                self.document.issues.append(
                    Issue(loc, "a key must be a single word", "write the key as plain text")
                )
                continue
            child = (*loc, key if isinstance(key, str | int) else str(key))
            if key in result:
                # A written key may override a merged one; two written ones are a mistake.
                if key in first_line and id(key_node) in written:
                    self.document.issues.append(
                        Issue(
                            child,
                            f"duplicate key (first at line {first_line[key]})",
                            "keep only one of them; YAML would silently use the last",
                        )
                    )
                self._forget(child)
            if id(key_node) in written:
                first_line.setdefault(key, line)
            self._place(child, key_node, value_node)
            result[key] = self.build(value_node, child)
        return result

    def _forget(self, loc: Loc) -> None:
        lines = self.document.lines
        for known in [known for known in lines if known[: len(loc)] == loc]:
            del lines[known]

    def _sequence(self, node: yaml.SequenceNode, loc: Loc) -> list[object]:
        items: list[object] = []
        for index, item in enumerate(node.value):
            child = (*loc, index)
            self.document.lines.setdefault(child, item.start_mark.line + 1)
            items.append(self.build(item, child))
        return items

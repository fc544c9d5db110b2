"""YAML files that users write (journeys, welcome rules): the document as Python values plus
the line of every path in it, so that each problem is reported with its line and reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from siyu.errors import UsageError
from siyu.i18n import tr

__all__ = ["Problem", "compose", "dotted", "read_text"]


def read_text(path: str | Path) -> str:
    """A user's file as UTF-8 text; a missing or undecodable file is a one-line error."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(tr("找不到文件 {p}", "no such file: {p}", p=p)) from None
    except UnicodeDecodeError:
        raise UsageError(tr("{p} 不是 UTF-8 文本", "{p} is not UTF-8 text", p=p)) from None


@dataclass(frozen=True)
class Problem:
    """One problem of a file: its line (None: the whole file), the dotted path, the reason."""

    line: int | None
    path: str
    reason: str

    def __str__(self) -> str:
        where = tr("第 {n} 行", "line {n}", n=self.line) if self.line else tr("文件", "file")
        return f"{where}: {self.path}: {self.reason}" if self.path else f"{where}: {self.reason}"

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "path": self.path, "reason": self.reason}

    def at(self, file: str | Path) -> str:
        """``file:line: path: reason``, as compilers print it."""
        return f"{file}:{self.line or '-'}: {self.path + ': ' if self.path else ''}{self.reason}"


class _Dup(Exception):
    def __init__(self, path, line):
        self.path, self.line = path, line


def compose(text: str) -> tuple[Any, dict[tuple, int], list[Problem]]:
    """The YAML document as Python values and the line of every path in it (a key given
    twice is a problem, not a silent overwrite)."""
    lines: dict[tuple, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(e, "problem", None) or str(e).splitlines()[0]
        return None, lines, [Problem(line, "", f"not valid YAML: {reason}")]
    if node is None:
        return None, lines, [Problem(None, "", "the file is empty")]
    constructor = yaml.SafeLoader("")  # constructs scalars with YAML's own typing rules

    def walk(n, path: tuple):
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out = {}
            for k, v in n.value:
                key = constructor.construct_object(k, deep=True)
                if isinstance(key, (dict, list)):
                    key = str(key)
                if key in out:
                    lines[path + (key,)] = k.start_mark.line + 1
                    raise _Dup(path + (key,), k.start_mark.line + 1)
                out[key] = walk(v, path + (key,))
                lines[path + (key,)] = k.start_mark.line + 1
            return out
        if isinstance(n, yaml.SequenceNode):
            return [walk(v, path + (i,)) for i, v in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)

    try:
        return walk(node, ()), lines, []
    except _Dup as d:
        return None, lines, [Problem(d.line, dotted(d.path), "key given twice")]
    except yaml.YAMLError as e:
        return None, lines, [Problem(None, "", f"not valid YAML: {e}")]


def dotted(path: tuple) -> str:
    """``("steps", 2, "wait")`` → ``steps[2].wait``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out

"""Tag definitions: tag groups holding tags, declared in the workspace file ``tags.yaml``.

Shape (every tag names its ``kind``; the other keys depend on the kind, see
:mod:`siyu.tags.kinds`)::

    groups:
      兴趣偏好:                      # a tag group
        抗衰老需求:                  # a tag; names are unique across groups
          kind: rule
          rule: 'views(last 30d, category = "抗衰老", dwell >= 180) >= 2'
          description: 30 天内浏览抗衰老内容（停留 ≥ 180 秒）至少两次

Without a workspace file the built-in definitions (``default_tags.yaml``: the model tags and
one text tag per chat scenario) apply; ``siyu init`` copies them as a starter file. Errors
name the file, the line and the key path (:class:`TagDefinitionError`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from siyu.errors import SiyuError
from siyu.i18n import tr

__all__ = ["TagDef", "TagDefs", "TagDefinitionError", "load_definitions", "definitions_of",
           "DEFINITIONS_FILE", "MANUAL_GROUP", "starter_text"]

DEFINITIONS_FILE = "tags.yaml"
MANUAL_GROUP = "manual"
"""The group of manual tags that no definition declares."""
NAME_MAX = 64


class TagDefinitionError(SiyuError):
    """A tag definition file that cannot be used: file, line, key path and why."""


@dataclass(frozen=True)
class TagDef:
    """One tag: its group, name, kind and the kind's parameters (validated)."""

    group: str
    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    description: str = ""
    line: int = 0

    @property
    def version(self) -> str:
        """A hash of the definition (kind and parameters): changes when the rule does."""
        doc = json.dumps({"kind": self.kind, **self.params}, sort_keys=True, ensure_ascii=False,
                         default=str)
        return hashlib.sha256(doc.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class TagDefs:
    """Every tag definition of a workspace, in file order, and where they came from."""

    tags: tuple[TagDef, ...]
    source: str

    def get(self, name: str) -> TagDef | None:
        return next((t for t in self.tags if t.name == name), None)

    def of_kind(self, kind: str) -> list[TagDef]:
        return [t for t in self.tags if t.kind == kind]

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(t.group for t in self.tags))


class _Lines(yaml.SafeLoader):
    """A YAML loader that builds plain values and remembers each key path's line."""


def _load(text: str, source: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    """The document in ``text`` and the 1-based line of every key path."""
    try:
        node = yaml.compose(text, Loader=_Lines)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = tr("第 {l} 行", "line {l}", l=mark.line + 1) if mark else ""
        raise TagDefinitionError(tr("{f}，{w}：不是有效的 YAML：{why}",
                                    "{f}, {w}: not valid YAML: {why}", f=source, w=where,
                                    why=getattr(e, "problem", e))) from None
    lines: dict[tuple[str, ...], int] = {}

    def build(n: yaml.Node, path: tuple[str, ...]) -> Any:
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for k, v in n.value:
                key = str(yaml.safe_load(yaml.serialize(k))) if not isinstance(
                    k, yaml.ScalarNode) else str(k.value)
                if key in out:
                    raise TagDefinitionError(tr(
                        "{f}，第 {l} 行：{p} 重复出现", "{f}, line {l}: {p} appears twice",
                        f=source, l=k.start_mark.line + 1, p=".".join((*path, key))))
                lines[(*path, key)] = k.start_mark.line + 1
                out[key] = build(v, (*path, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(v, (*path, str(i))) for i, v in enumerate(n.value)]
        return yaml.safe_load(yaml.serialize(n))

    return (build(node, ()) if node is not None else None), lines


class _Where:
    """Builds :class:`TagDefinitionError` messages that name file, line and key path."""

    def __init__(self, source: str, lines: dict[tuple[str, ...], int]):
        self.source, self.lines = source, lines

    def error(self, path: tuple[str, ...], zh: str, en: str, **kw) -> TagDefinitionError:
        line = self.lines.get(path)
        while line is None and path:
            path = path[:-1]
            line = self.lines.get(path)
        key = ".".join(path) or tr("（文件）", "(file)")
        return TagDefinitionError(tr("{f}，第 {l} 行，{k}：", "{f}, line {l}, {k}: ", f=self.source,
                                     l=line or 1, k=key) + tr(zh, en, **kw))


def _name(where: _Where, path: tuple[str, ...], value: str, what: str) -> str:
    if not value.strip() or len(value) > NAME_MAX or value != value.strip():
        raise where.error(path, "{w}名称应为 1–{n} 个字符、首尾无空格",
                          "a {w} name has 1–{n} characters and no surrounding spaces",
                          w=what, n=NAME_MAX)
    return value


def parse_definitions(text: str, source: str) -> TagDefs:
    """The definitions in YAML ``text`` (named ``source`` in errors), fully validated."""
    from siyu.tags.kinds import KINDS, check_rule_order

    doc, lines = _load(text, source)
    where = _Where(source, lines)
    if doc is None:
        return TagDefs((), source)
    if not isinstance(doc, dict) or set(doc) - {"groups"}:
        raise where.error((), "顶层应只有键 groups", "the top level holds only the key groups")
    groups = doc.get("groups") or {}
    if not isinstance(groups, dict):
        raise where.error(("groups",), "应为标签组的映射", "expected a mapping of tag groups")
    out: list[TagDef] = []
    seen: dict[str, str] = {}
    for group, tags in groups.items():
        gpath = ("groups", group)
        _name(where, gpath, group, tr("标签组", "tag group"))
        if not isinstance(tags, dict) or not tags:
            raise where.error(gpath, "标签组应为非空的标签映射",
                              "a tag group is a non-empty mapping of tags")
        for name, spec in tags.items():
            path = (*gpath, name)
            _name(where, path, name, tr("标签", "tag"))
            if name in seen:
                raise where.error(path, "标签 {n} 已在组 {g} 中定义（标签名须全局唯一）",
                                  "tag {n!r} is already defined in group {g!r} (tag names "
                                  "are unique across groups)", n=name, g=seen[name])
            seen[name] = group
            if not isinstance(spec, dict):
                raise where.error(path, "标签定义应为映射（至少有 kind）",
                                  "a tag definition is a mapping (with at least kind)")
            kind = spec.get("kind")
            if kind not in KINDS:
                raise where.error((*path, "kind"), "kind 应为 {ok} 之一，却是 {v}",
                                  "kind is one of {ok}, not {v!r}", ok=", ".join(KINDS), v=kind)
            desc = spec.get("description", "")
            if not isinstance(desc, str):
                raise where.error((*path, "description"), "应为字符串", "expected a string")
            rest = {k: v for k, v in spec.items() if k not in ("kind", "description")}
            params = KINDS[kind].validate(rest, path, where)
            out.append(TagDef(group, name, kind, params, desc, lines.get(path, 0)))
    defs = TagDefs(tuple(out), source)
    check_rule_order(defs, where)
    return defs


def starter_text() -> str:
    """The built-in definitions file (also the starter ``tags.yaml`` of a new workspace)."""
    return resources.files("siyu.tags").joinpath("default_tags.yaml").read_text("utf-8")


def load_definitions(path: Path | None) -> TagDefs:
    """The definitions of file ``path``, or the built-in ones when ``path`` is None or
    missing."""
    if path is None or not Path(path).exists():
        return parse_definitions(starter_text(), "default_tags.yaml")
    try:
        text = Path(path).read_text("utf-8")
    except UnicodeDecodeError as e:
        raise TagDefinitionError(tr("{f}：不是 UTF-8 文本", "{f}: not UTF-8 text", f=path)) from e
    return parse_definitions(text, str(path))


def definitions_of(ws) -> TagDefs:
    """The workspace's tag definitions (``<home>/tags.yaml``, else the built-in ones)."""
    return load_definitions(ws.home / DEFINITIONS_FILE)

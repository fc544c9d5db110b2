"""Tag kinds: a registry of small classes (manual, rule, model, text), the built-in ones
registered the same way a brand's own kind would be (:func:`register`).

A kind validates a definition's parameters (:meth:`TagKind.validate`), computes the consumers
that carry each of its tags with their values (:meth:`TagKind.compute`), names its source and
version, and explains one consumer's tag (:meth:`TagKind.why`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from siyu.errors import SiyuError

if TYPE_CHECKING:
    import ibis
    import pyarrow as pa

    from siyu.tags.context import TagContext
    from siyu.tags.definitions import TagDef, TagDefs

__all__ = ["TagKind", "KINDS", "register", "TagNotReady", "check_rule_order"]


class TagNotReady(SiyuError):
    """A tag whose inputs are missing (no CLV predictions, unknown scenario…): it is skipped
    and the reason reported, the other tags are still computed."""


class TagKind:
    """One kind of tag. Subclasses set :attr:`name`, :attr:`keys` and override the methods."""

    name: ClassVar[str]
    keys: ClassVar[dict[str, str]] = {}
    """Definition keys besides ``kind`` and ``description``: key → what it means."""
    required: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def validate(cls, spec: dict[str, Any], path: tuple[str, ...], where) -> dict[str, Any]:
        """The checked parameters of one definition; ``where.error(path, zh, en)`` for a
        problem (it names file, line and key)."""
        for k in spec:
            if k not in cls.keys:
                raise where.error((*path, k), "{k} 类标签没有键 {x}；可用：{ok}",
                                  "a {k} tag has no key {x!r}; valid keys: {ok}", k=cls.name,
                                  x=k, ok=", ".join(["kind", "description", *cls.keys]))
        for k in cls.required:
            if k not in spec:
                raise where.error(path, "{k} 类标签需要键 {x}", "a {k} tag needs the key {x!r}",
                                  k=cls.name, x=k)
        return dict(spec)

    def compute(self, ctx: TagContext, d: TagDef) -> ibis.Table | pa.Table:
        """``(consumer_id, value)`` of every consumer carrying tag ``d`` (value a string or
        null); :class:`TagNotReady` when an input is missing."""
        raise NotImplementedError

    def source(self, d: TagDef) -> str:
        """What produced the values (the rule, model or scenario name)."""
        return f"{self.name}:{d.name}"

    def version(self, ctx: TagContext, d: TagDef) -> str:
        """A hash of the definition, or the model / lexicon version."""
        return d.version

    def describe(self, d: TagDef) -> str:
        """The definition in one line (the rule text, the model and its filter…)."""
        return d.description

    def why(self, ctx: TagContext, d: TagDef, consumer_id: str) -> dict[str, Any]:
        """The facts behind consumer ``consumer_id``'s tag ``d`` (or its absence)."""
        return {}


KINDS: dict[str, type[TagKind]] = {}
"""Kind name → class."""


def register(cls: type[TagKind]) -> type[TagKind]:
    """Add a kind to :data:`KINDS` (a class decorator)."""
    KINDS[cls.name] = cls
    return cls


def check_rule_order(defs: TagDefs, where) -> None:
    """Rules may use other tags (``tag("…")``); a cycle among rule tags is an error."""
    from siyu.tags.kinds.rule import rule_order

    rule_order(defs, where)


def _register_builtins() -> None:
    from siyu.tags.kinds import chat, manual, model, rule  # noqa: F401

    builtins = {k: KINDS.pop(k) for k in ("manual", "rule", "model", "text")}
    others = dict(KINDS)
    KINDS.clear()
    KINDS.update(builtins | others)


_register_builtins()

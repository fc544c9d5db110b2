"""Manual tags: set by people (``siyu tag set``, ``siyu tag import``) and kept in the
operational store (:mod:`siyu.tags.manual`); a definition only fixes the group and
description::

    VIP客户: {kind: manual, description: 门店认定的重点客户}

Manual tags that no definition declares live in the group given when set (default
``manual``). A compute copies them into ``tag_values`` and never changes them.
"""

from __future__ import annotations

import pyarrow.compute as pc

from siyu.tags.kinds import TagKind, register

__all__ = ["ManualKind"]


@register
class ManualKind(TagKind):
    name = "manual"
    keys = {}

    def rows(self, ctx):
        """Every resolved manual row (cached for one compute)."""
        from siyu.tags.manual import resolved

        if "manual" not in ctx.cache:
            ctx.cache["manual"] = resolved(ctx.ws)
        return ctx.cache["manual"]

    def compute(self, ctx, d):
        t, _ = self.rows(ctx)
        t = t.filter(pc.equal(t["tag"], d.name))
        return t.select(["consumer_id", "value", "source"])

    def source(self, d) -> str:
        return "manual"

    def version(self, ctx, d) -> str:
        return "manual"

    def describe(self, d) -> str:
        return d.description or "manual"

    def why(self, ctx, d, consumer_id):
        from siyu.tags.manual import manual_row

        row = manual_row(ctx.ws, consumer_id, d.name)
        return {"manual": row} if row else {}

"""Model tags: a model's output per consumer as the tag's value::

    层级:   {kind: model, model: tier}                       # value "1"…"5"
    高风险: {kind: model, model: churn_decile, values: [9, 10]}
    复购到期: {kind: model, model: purchase_cycle_due, within_days: 7}   # value = category

Models: ``tier`` (§5, month to date), ``rfm_segment`` (§9), ``clv_decile`` and
``churn_decile`` (table ``clv_predictions`` of ``siyu clv predict``), ``purchase_cycle_due``
(table ``purchase_cycles`` of ``siyu clv cycles``: a category whose ``next_due`` is at most
``within_days`` after the snapshot day). Tier, segment and deciles are read exactly as the
audience terms of the same name compare them (:func:`siyu.audience.compile.term_values`).
"""

from __future__ import annotations

from typing import Any

import ibis

from siyu.audience.compile import AudienceNotReady, term_values
from siyu.audience.terms import TermError, check_compare
from siyu.i18n import tr
from siyu.tags.kinds import TagKind, TagNotReady, register

__all__ = ["ModelKind", "MODELS"]

MODELS: dict[str, str] = {
    "tier": "tier",
    "rfm_segment": "rfm",
    "clv_decile": "clv_decile",
    "churn_decile": "churn_decile",
    "purchase_cycle_due": "",
}
"""Model name → the audience term it reads ("" = its own table)."""

_TABLES = {"clv_decile": ("clv_predictions", "`siyu clv fit` + `siyu clv predict`"),
           "churn_decile": ("clv_predictions", "`siyu clv fit` + `siyu clv predict`"),
           "purchase_cycle_due": ("purchase_cycles", "`siyu clv cycles`")}


def _values(ctx, term: str) -> ibis.Table:
    """``term_values`` of ``term`` at the snapshot, computed once per compute and kept in
    ``ctx.cache["term_values"]`` (the bitmap index built after the tags reuses them)."""
    kept = ctx.cache.setdefault("term_values", {})
    if term not in kept:
        try:
            kept[term] = term_values(ctx.src, term, ctx.as_of).to_pyarrow()
        except AudienceNotReady as e:
            raise TagNotReady(str(e)) from None
    return ibis.memtable(kept[term])


@register
class ModelKind(TagKind):
    name = "model"
    keys = {"model": "tier | rfm_segment | clv_decile | churn_decile | purchase_cycle_due",
            "values": "only these values get the tag (optional list)",
            "within_days": "purchase_cycle_due: days after the snapshot a due date may fall "
                           "(default 0)"}
    required = ("model",)

    @classmethod
    def validate(cls, spec, path, where) -> dict[str, Any]:
        spec = super().validate(spec, path, where)
        model = spec["model"]
        if model not in MODELS:
            raise where.error((*path, "model"), "model 应为 {ok} 之一，却是 {v}",
                              "model is one of {ok}, not {v!r}", ok=", ".join(MODELS), v=model)
        out: dict[str, Any] = {"model": model}
        if "within_days" in spec:
            w = spec["within_days"]
            if model != "purchase_cycle_due":
                raise where.error((*path, "within_days"), "只有 purchase_cycle_due 有此键",
                                  "only purchase_cycle_due takes this key")
            if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 366:
                raise where.error((*path, "within_days"), "应为 0–366 的整数",
                                  "expected a whole number from 0 to 366")
            out["within_days"] = w
        if "values" in spec:
            vals = spec["values"]
            if not isinstance(vals, list) or not vals:
                raise where.error((*path, "values"), "应为非空列表", "expected a non-empty list")
            if MODELS[model]:
                try:
                    vals = list(check_compare(MODELS[model], "in", tuple(vals)).value)
                except TermError as e:
                    raise where.error((*path, "values"), "{m}", "{m}", m=str(e)) from None
            out["values"] = [str(v) for v in vals]
        return out

    def _need(self, ctx, model: str) -> None:
        if model in _TABLES:
            table, how = _TABLES[model]
            if not ctx.has_table(table):
                raise TagNotReady(tr("缺少表 {t}：请先运行 {h}", "table {t} is missing: run {h} "
                                     "first", t=table, h=how))

    def compute(self, ctx, d):
        model = d.params["model"]
        self._need(ctx, model)
        if model == "purchase_cycle_due":
            c = ctx.src.table("purchase_cycles")
            limit = ibis.literal(ctx.as_of) + ibis.interval(days=d.params.get("within_days", 0))
            c = c.filter(c.next_due.notnull() & (c.next_due <= limit.cast("date")))
            t = c.select("consumer_id", value=c.category.cast("string"))
        else:
            v = _values(ctx, MODELS[model])
            t = v.select("consumer_id", value=v.v.cast("string"))
        if "values" in d.params:
            t = t.filter(t.value.isin(d.params["values"]))
        return t.distinct()

    def source(self, d) -> str:
        return f"model:{d.params['model']}"

    def version(self, ctx, d) -> str:
        model = d.params["model"]
        if model in _TABLES and ctx.has_table(_TABLES[model][0]):
            t = ctx.src.table(_TABLES[model][0])
            if "as_of" in t.columns:
                stamp = t.as_of.max().to_pyarrow().as_py()
                return f"{d.version}@{_TABLES[model][0]}:{stamp}"
        return d.version

    def describe(self, d) -> str:
        p = d.params
        text = p["model"]
        if "within_days" in p:
            text += f" (within {p['within_days']}d)"
        if "values" in p:
            text += " in [" + ", ".join(p["values"]) + "]"
        return text

    def why(self, ctx, d, consumer_id):
        from siyu.tags.facts import model_facts

        model = d.params["model"]
        try:
            self._need(ctx, model)
        except TagNotReady as e:
            return {"model": model, "missing": str(e)}
        return {"model": model, **model_facts(ctx, model, consumer_id)}

"""Text tags: chat scenarios and emotions in the messages consumers wrote (``interactions`` of
type ``message``), found by the detector of :mod:`siyu.tags.text`::

    快用完了: {kind: text, scenario: cycle_due, window: 30d}

A consumer carries the tag when a message in the window before the snapshot hits the
scenario (negated and dropped questions do not count); the value is the latest hit's time
(brand-local ISO). The brand's lexicon file is setting ``tag_lexicon``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

import pyarrow as pa

from siyu.i18n import tr
from siyu.tags.kinds import TagKind, TagNotReady, register

__all__ = ["TextKind", "window_days", "messages"]

_WINDOW = re.compile(r"([1-9][0-9]*)([dw])")


def window_days(d, settings) -> int:
    """The window of text tag ``d`` in days (setting ``tag_text_window_days`` by default)."""
    w = d.params.get("window")
    if w is None:
        return int(settings.tag_text_window_days)
    m = _WINDOW.fullmatch(w)
    return int(m.group(1)) * (7 if m.group(2) == "w" else 1)  # type: ignore[union-attr]


def messages(ctx, days: int, consumer_id: str | None = None) -> pa.Table:
    """``(consumer_id, event_id, occurred_at, text)`` of the messages consumers wrote in the
    ``days`` before the snapshot (of one consumer when given), oldest first."""
    t = ctx.src.interactions
    start = ctx.instant - timedelta(days=days)
    t = t.filter((t.type == "message") & t.text.notnull() & (t.occurred_at >= start)
                 & (t.occurred_at < ctx.instant))
    if consumer_id is not None:
        t = t.filter(t.consumer_id == consumer_id)
    t = t.select("consumer_id", "event_id", "occurred_at", "text")
    return t.order_by(["occurred_at", "event_id"]).to_pyarrow()


def lexicon_version(lex) -> str:
    """A hash of everything the detector uses from a lexicon."""
    doc = {
        "scenarios": {n: {k: sorted(v) if isinstance(v, frozenset | tuple) else v
                          for k, v in vars(s).items()} for n, s in lex.scenarios.items()},
        "words": {k: sorted(v) for k, v in lex.words.items()},
        "classes": {k: sorted(v) for k, v in lex.classes.items()},
        "rules": [lex.negation_window, lex.gap],
    }
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@register
class TextKind(TagKind):
    name = "text"
    keys = {"scenario": "a scenario or emotion of the chat lexicon (cycle_due, complaint…)",
            "window": "how far back messages count, like 30d or 4w (default: setting "
                      "tag_text_window_days)"}
    required = ("scenario",)

    @classmethod
    def validate(cls, spec, path, where) -> dict[str, Any]:
        spec = super().validate(spec, path, where)
        s = spec["scenario"]
        if not isinstance(s, str) or not s:
            raise where.error((*path, "scenario"), "应为场景名称（如 cycle_due）",
                              "expected a scenario name (like cycle_due)")
        out: dict[str, Any] = {"scenario": s}
        if "window" in spec:
            w = spec["window"]
            if not isinstance(w, str) or not _WINDOW.fullmatch(w):
                raise where.error((*path, "window"), "时间窗应写作 30d 或 4w",
                                  "a window is written like 30d or 4w")
            out["window"] = w
        return out

    def _scenario(self, ctx, d) -> str:
        s = d.params["scenario"]
        if s not in ctx.lexicon.scenarios:
            raise TagNotReady(tr("词典中没有场景 {s}；可用：{ok}",
                                 "the lexicon has no scenario {s!r}; valid: {ok}", s=s,
                                 ok=", ".join(sorted(ctx.lexicon.scenarios))))
        return s

    def _hits(self, ctx) -> tuple[pa.Table, list[set[str]]]:
        """Messages of the longest text-tag window and the scenarios each hits (cached)."""
        from siyu.tags.text import detect_many

        days = ctx.cache.get("chat_days", int(ctx.settings.tag_text_window_days))
        got = ctx.cache.get("chat_hits")
        if got is None or got[0] < days:
            msgs = messages(ctx, days)
            hits = detect_many(msgs["text"].to_pylist(), ctx.lexicon)
            got = (days, msgs, [{h.scenario for h in hs} for hs in hits])
            ctx.cache["chat_hits"] = got
        return got[1], got[2]

    def compute(self, ctx, d):
        scenario = self._scenario(ctx, d)
        ctx.cache["chat_days"] = max(ctx.cache.get("chat_days", 0), window_days(d, ctx.settings))
        msgs, hits = self._hits(ctx)
        start = ctx.instant - timedelta(days=window_days(d, ctx.settings))
        latest: dict[str, Any] = {}
        for cid, at, hs in zip(msgs["consumer_id"].to_pylist(),
                               msgs["occurred_at"].to_pylist(), hits, strict=True):
            if scenario in hs and at >= start and (cid not in latest or at > latest[cid]):
                latest[cid] = at
        zone = ctx.settings.zone
        ids = sorted(latest)
        return pa.table({"consumer_id": pa.array(ids, pa.string()),
                         "value": pa.array([latest[c].astimezone(zone).isoformat()
                                            for c in ids], pa.string())})

    def source(self, d) -> str:
        return f"text:{d.params['scenario']}"

    def version(self, ctx, d) -> str:
        return f"{d.version}/lexicon:{lexicon_version(ctx.lexicon)}"

    def describe(self, d) -> str:
        w = d.params.get("window")
        return f"scenario {d.params['scenario']}" + (f", last {w}" if w else "")

    def why(self, ctx, d, consumer_id):
        from siyu.tags.text import detector_for

        scenario = self._scenario(ctx, d)
        days = window_days(d, ctx.settings)
        det = detector_for(ctx.lexicon)
        zone = ctx.settings.zone
        out = []
        msgs = messages(ctx, days, consumer_id)
        for ev, at, text in zip(msgs["event_id"].to_pylist(), msgs["occurred_at"].to_pylist(),
                                msgs["text"].to_pylist(), strict=True):
            kept = {(h.cue, h.span) for h in det.detect(text) if h.scenario == scenario}
            for h in det.detect(text, include_suppressed=True):
                if h.scenario == scenario:
                    out.append({"event_id": ev, "at": at.astimezone(zone).isoformat(),
                                "cue": h.cue, "span": list(h.span),
                                "counted": (h.cue, h.span) in kept, "negated": h.negated,
                                "questioned": h.questioned, "explain": h.explain,
                                "text": text})
        return {"scenario": scenario, "window_days": days, "messages": out}

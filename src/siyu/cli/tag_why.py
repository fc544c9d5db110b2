"""The terminal form of ``siyu tag why`` (the JSON form is :func:`siyu.tags.service.why`)."""

from __future__ import annotations

from typing import Any

from siyu.cli.app import out
from siyu.i18n import tr

__all__ = ["print_why"]


def _p(text: str) -> None:
    out.print(text, markup=False)


def _kv(d: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    return "  ".join(f"{k}={v}" for k, v in d.items() if k not in skip and v is not None)


def print_why(w: dict[str, Any]) -> None:
    has = tr("有", "carries") if w["has_tag"] else tr("没有", "does not carry")
    vals = f" = {', '.join(str(v) for v in w['values'] if v is not None)}" \
        if any(v is not None for v in w["values"]) else ""
    _p(tr(f"消费者 {w['consumer_id']} {has}标签 {w['tag']}{vals}（组 {w['group']}，{w['kind']}）",
          f"consumer {w['consumer_id']} {has} tag {w['tag']!r}{vals} (group {w['group']!r}, "
          f"{w['kind']})"))
    f = w["facts"]
    if w["kind"] == "manual":
        m = f.get("manual")
        if m:
            _p(tr(f"手工设置：由 {m['actor']} 于 {m['set_at']} 设置（{m['source']}）",
                  f"manual, set by {m['actor']} at {m['set_at']} ({m['source']})"))
        return
    _p(tr(f"定义：{w['definition']}", f"definition: {w['definition']}"))
    if w["computed_at"]:
        _p(tr(f"版本 {w['rule_version']}，计算于 {w['computed_at']}，截至 {w['as_of']}",
              f"version {w['rule_version']}, computed at {w['computed_at']}, as of "
              f"{w['as_of']}"))
    else:
        _p(tr("尚未计算：请运行 `siyu tag compute`", "never computed: run `siyu tag compute`"))
    if w.get("changed_since_compute"):
        _p(tr("注意：定义在上次计算后已改变", "note: the definition changed since the last compute"))
    if w.get("profiling_revoked_at"):
        _p(tr(f"该消费者已于 {w['profiling_revoked_at']} 撤回画像（profiling）授权：不计算标签",
              f"the consumer revoked consent for profiling at {w['profiling_revoked_at']}: "
              "no computed tags"))
    if w.get("reason"):
        _p(tr(f"已跳过：{w['reason']}", f"skipped: {w['reason']}"))
    for t in f.get("terms", []):
        mark = {True: "✔", False: "✘", None: "?"}[t["holds"]]
        extra = f" — {t['missing']}" if "missing" in t else ""
        if "value" in t:
            extra += tr(f" — 值 {t['value']}", f" — value {t['value']}")
        if "period" in t:
            extra += tr(f"（期间 {t['period']}）", f" (period {t['period']})")
        _p(f"  {mark} {t['term']}{extra}")
        for e in t.get("events", []):
            _p(f"      {e.get('at')}  {_kv(e, ('at',))}")
        if t.get("events_truncated"):
            _p(tr("      …（仅显示前 20 条）", "      … (first 20 shown)"))
        for r in t.get("relationships", []):
            _p(f"      {_kv(r)}")
        if "values" in t:
            _p(f"      {t['values']}")
    for m in f.get("messages", []):
        flag = "✔" if m["counted"] else "✘"
        _p(f"  {flag} {m['at']}  「{m['cue']}」 {m['span']}  {m['explain']}")
        _p(f"      {m['text']}")
    if "missing" in f:
        _p(f"  {f['missing']}")
    elif "model" in f:
        line = _kv(f, ("model", "cycles"))
        if line:
            _p("  " + line)
        if "cycles" in f and not f["cycles"]:
            _p(tr("  没有任何品类的购买周期", "  no purchase cycle in any category"))
        for c in f.get("cycles", []):
            _p(f"      {_kv(c)}")

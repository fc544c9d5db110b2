"""Conditions of ``branch`` steps and ``exit_when``: events since a point, audience
membership, an unread last message, and ``all`` / ``any`` / ``not`` of them."""

from __future__ import annotations

from typing import Any

from siyu.activation.clock import parse_duration

__all__ = ["check_condition", "evaluate", "events_used"]

SINCE = ("enrolled", "wait")


def check_condition(c: Any, path: tuple, problem) -> None:
    from siyu.activation.events import check_event

    if not isinstance(c, dict) or not c:
        problem(path, "a condition is a mapping: {event: …}, {audience: …}, {sent_unread: true}, "
                "{all: […]}, {any: […]} or {not: …}")
        return
    if "all" in c or "any" in c:
        k = "all" if "all" in c else "any"
        if len(c) != 1 or not isinstance(c[k], list) or not c[k]:
            problem(path + (k,), f"{k} takes a non-empty list of conditions and nothing else")
            return
        for i, x in enumerate(c[k]):
            check_condition(x, path + (k, i), problem)
    elif "not" in c:
        if len(c) != 1:
            problem(path, "not takes one condition and nothing else")
            return
        check_condition(c["not"], path + ("not",), problem)
    elif "event" in c:
        for k in c:
            if k not in ("event", "where", "since"):
                problem(path + (k,), f"unknown key {k!r}; known: event, where, since")
        check_event(c, path, problem)
        s = c.get("since", "enrolled")
        if s not in SINCE and parse_duration(str(s)) is None:
            problem(path + ("since",), "since must be enrolled, wait, or a duration like 7d / "
                    "72h / 30m")
    elif "audience" in c:
        if len(c) != 1 or not isinstance(c["audience"], str):
            problem(path + ("audience",), "audience takes one audience expression (text)")
            return
        from siyu.audience.parse import parse

        try:
            parse(c["audience"])
        except Exception as e:  # AudienceSyntaxError carries position and reason
            problem(path + ("audience",), f"audience expression: {e}")
    elif "sent_unread" in c:
        if len(c) != 1 or c["sent_unread"] is not True:
            problem(path + ("sent_unread",), "write sent_unread: true")
    else:
        problem(path, f"unknown condition {sorted(c)!r}; use event, audience, sent_unread, all, "
                "any or not")


def events_used(c: dict[str, Any]) -> list[tuple[str, dict]]:
    """The (event, where) pairs a condition reads (so a batch can load them at once)."""
    if "all" in c or "any" in c:
        return [x for sub in c.get("all", c.get("any")) for x in events_used(sub)]
    if "not" in c:
        return events_used(c["not"])
    if "event" in c:
        return [(c["event"], c.get("where") or {})]
    return []


def evaluate(c: dict[str, Any], ctx) -> bool:
    """Whether condition ``c`` holds for the enrolment of ``ctx`` at ``ctx.now``."""
    if "all" in c:
        return all(evaluate(x, ctx) for x in c["all"])
    if "any" in c:
        return any(evaluate(x, ctx) for x in c["any"])
    if "not" in c:
        return not evaluate(c["not"], ctx)
    if "event" in c:
        s = c.get("since", "enrolled")
        if s == "enrolled":
            since = ctx.enrolled_at
        elif s == "wait":
            since = ctx.wait_started_at or ctx.enrolled_at
        else:
            since = ctx.now - parse_duration(str(s))
        times = ctx.env.event_times(c["event"], c.get("where") or {}, ctx.consumer_id)
        return any(since < t <= ctx.now for t in times)
    if "audience" in c:
        return ctx.consumer_id in ctx.env.audience_members(c["audience"], ctx.now)
    if "sent_unread" in c:
        return ctx.env.last_send_unread(ctx)
    raise ValueError(f"unknown condition {c!r}")

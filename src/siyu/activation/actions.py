"""Actions (a registry of small classes): ``send``, ``coupon``, ``points``, ``tag``,
``task``, ``webhook``, ``handover``. An action runs inside the transaction of its step change: sends and
webhooks become outbox rows, coupons rows of ``coupon_grants``, tasks guide tasks — each with
the step's deterministic idempotency key, so a re-run after a crash writes nothing twice.
Sends, webhooks and coupons the engine reaches more than ``journey_late_limit`` after their
time (tasks: their due time) are suppressed as ``too_late`` (:meth:`Ctx.suppress_late`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, ClassVar

from siyu.activation.clock import parse_duration
from siyu.activation.steps import Outcome

__all__ = ["ACTIONS", "Action", "render", "FIELDS", "SEND_CHANNELS", "PURPOSES"]

FIELDS = ("name", "gender", "city", "province", "birthday", "brand", "consumer_id", "journey",
          "last_category", "trigger_category", "clicked_category")
"""Consumer and context fields a template may use (docs/journeys.md)."""
SEND_CHANNELS = ("wecom", "wecom_group", "official_account", "miniprogram", "sms", "email",
                 "file", "console")
PURPOSES = ("marketing", "service")
_FIELD = re.compile(r"\{([^{}|]*)(?:\|([^{}]*))?\}")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _parts(m: re.Match) -> tuple[list[str], str]:
    """The fields of ``{f}`` / ``{f|fallback}`` / ``{f1|f2|…|fallback}`` and the fallback."""
    if m.group(2) is None:
        return [m.group(1).strip()], ""
    more = m.group(2).split("|")
    return [m.group(1).strip()] + [f.strip() for f in more[:-1]], more[-1]


def render(template: str, values: dict[str, Any]) -> str:
    """``{field}`` / ``{field|fallback}`` replaced by the value (or fallback, or "");
    ``{f1|f2|fallback}`` takes the first field with a value."""
    def sub(m: re.Match) -> str:
        names, fallback = _parts(m)
        for n in names:
            v = values.get(n)
            if v is not None and v != "":
                return str(v)
        return fallback
    return _FIELD.sub(sub, template)


def _check_template(t: Any, path: tuple, problem) -> None:
    if not isinstance(t, str) or not t.strip():
        problem(path, "template must be non-empty text")
        return
    if t.count("{") != t.count("}"):
        problem(path, "unbalanced { } in template")
    for m in _FIELD.finditer(t):
        for n in _parts(m)[0]:
            if n not in FIELDS:
                problem(path, f"unknown template field {n!r}; known: {', '.join(FIELDS)}")


def _keys(spec: Any, path: tuple, problem, required: tuple, optional: tuple) -> bool:
    if not isinstance(spec, dict):
        problem(path, f"takes a mapping with {', '.join(required + optional)}")
        return False
    for k in spec:
        if k not in required + optional:
            problem(path + (k,), f"unknown key {k!r}; known: {', '.join(required + optional)}")
    for k in required:
        if k not in spec:
            problem(path, f"missing required key {k!r}")
    return True


def _text(spec: dict, key: str, path: tuple, problem, required: bool = True) -> None:
    v = spec.get(key)
    if v is None and not required:
        return
    if not isinstance(v, str) or not v.strip():
        problem(path + (key,), f"{key} must be non-empty text")


class Action:
    name: ClassVar[str]
    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ()

    def check(self, spec: Any, path: tuple, problem) -> None:
        if _keys(spec, path, problem, self.required, self.optional):
            self.check_values(spec, path, problem)

    def check_values(self, spec: dict, path: tuple, problem) -> None:
        pass

    def run(self, ctx, step) -> Outcome:
        raise NotImplementedError


class Send(Action):
    """A message on a channel, after the guardrails (quiet hours, consent, caps)."""

    name = "send"
    required = ("channel", "template")
    optional = ("purpose", "template_id")

    def check_values(self, spec, path, problem):
        if spec.get("channel") not in SEND_CHANNELS:
            problem(path + ("channel",), f"channel must be one of {', '.join(SEND_CHANNELS)}")
        if spec.get("purpose", "marketing") not in PURPOSES:
            problem(path + ("purpose",), f"purpose must be one of {', '.join(PURPOSES)}")
        _check_template(spec.get("template"), path + ("template",), problem)
        _text(spec, "template_id", path, problem, required=False)

    def run(self, ctx, step):
        from siyu.activation.guardrails import quiet_until

        env, spec = ctx.env, step.spec
        late = Outcome(step.next, ctx.now)
        if ctx.suppress_late(step, channel=spec["channel"]):  # reached days late: not sent
            return late
        # quiet hours: at the step's time (the schedule), and at the real instant of a step
        # reached late — it then goes in the morning, unless that is too late by then
        at = ctx.done_at()
        later = quiet_until(ctx.now, env.settings) or \
            (quiet_until(at, env.settings) if at > ctx.now else None)
        if later is not None:
            if at > ctx.now and ctx.too_late(at=later):
                ctx.log("suppressed", step.id, reason="too_late",
                        detail={"channel": spec["channel"]})
                return late
            ctx.log("deferred", step.id, reason="quiet_hours", detail={"until": later.isoformat()})
            return Outcome(None, later)
        channel, purpose = spec["channel"], spec.get("purpose", "marketing")
        reason = "no_recipient" if env.unreachable(ctx.consumer_id, channel) else \
            env.guard(ctx, channel, purpose)
        if reason is not None:
            ctx.log("suppressed", step.id, reason=reason, detail={"channel": channel})
            return Outcome(step.next, ctx.now)
        text = render(spec["template"], ctx.fields())
        env.outbox(ctx, step, channel=channel, purpose=purpose,
                   recipient=env.recipient(ctx.consumer_id, channel),
                   payload={"text": text, "template_id": spec.get("template_id"),
                            "journey": ctx.journey.name, "step": step.id})
        return Outcome(step.next, ctx.now)  # the outbox row is the record of the send


class Coupon(Action):
    """A coupon grant in the ops table ``coupon_grants`` (the loyalty ledger takes it up)."""

    name = "coupon"
    required = ("template_id", "face_value")
    optional = ("threshold", "valid_days")

    def check_values(self, spec, path, problem):
        _text(spec, "template_id", path, problem)
        for k in ("face_value", "threshold"):
            v = spec.get(k, 0)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                problem(path + (k,), f"{k} must be an amount ≥ 0 (yuan)")
        d = spec.get("valid_days", 7)
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            problem(path + ("valid_days",), "valid_days must be a whole number ≥ 1")

    def run(self, ctx, step):
        s = step.spec
        if ctx.suppress_late(step, action="coupon", template_id=s["template_id"]):
            return Outcome(step.next, ctx.now)  # a stale grant, with its message suppressed
        at = ctx.done_at()  # issued late within the limit: valid in full from the issue
        ctx.env.coupon(ctx, step, template_id=s["template_id"], face_value=float(s["face_value"]),
                       threshold=float(s.get("threshold", 0)), issued_at=at,
                       expires_at=at + timedelta(days=s.get("valid_days", 7)))
        ctx.log("coupon", step.id, detail={"template_id": s["template_id"]})
        return Outcome(step.next, ctx.now)


class Points(Action):
    """Loyalty points 积分: a grant in the ops ledger ``points_ledger`` (siyu.activation.points),
    written in the step's transaction with the step's idempotency key (a re-run grants
    nothing twice); they lapse ``expires_in_days`` after the step (default 365)."""

    name = "points"
    required = ("amount",)
    optional = ("expires_in_days", "reason")

    def check_values(self, spec, path, problem):
        from siyu.activation.points import MAX_POINTS

        a = spec.get("amount")
        if not isinstance(a, int) or isinstance(a, bool) or not 1 <= a <= MAX_POINTS:
            problem(path + ("amount",), f"amount must be a whole number from 1 to {MAX_POINTS}")
        d = spec.get("expires_in_days", 365)
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            problem(path + ("expires_in_days",), "expires_in_days must be a whole number ≥ 1")
        _text(spec, "reason", path, problem, required=False)

    def run(self, ctx, step):
        from siyu.activation.points import grant

        s = step.spec
        at = ctx.done_at()  # granted however late, lapsing a full term after the grant
        grant(ctx.env.conn, ctx.consumer_id, s["amount"], at=at,
              expires_at=at + timedelta(days=s.get("expires_in_days", 365)),
              source=f"journey:{ctx.journey.name}/{step.id}", reason=s.get("reason"),
              key=ctx.key(step))
        ctx.log("points", step.id, detail={"amount": s["amount"]})
        return Outcome(step.next, ctx.now)


class Tag(Action):
    """Add or remove a manual tag (手工标签) of siyu.tags: a row of the ops table
    ``manual_tags`` keyed by the consumer id, written in the step's transaction and audited
    (``tag_set`` / ``tag_unset`` by ``journey:<name>``). A tag defined with another kind
    (rule, model, text) cannot be set by a journey: the enrolment fails with the reason."""

    name = "tag"
    required = ("tag",)
    optional = ("group", "op", "value")

    def check_values(self, spec, path, problem):
        _text(spec, "tag", path, problem)
        if isinstance(spec.get("tag"), str) and len(spec["tag"]) > 64:
            problem(path + ("tag",), "tag has at most 64 characters")
        _text(spec, "group", path, problem, required=False)
        _text(spec, "value", path, problem, required=False)
        if spec.get("op", "add") not in ("add", "remove"):
            problem(path + ("op",), "op must be add or remove")

    def run(self, ctx, step):
        s = step.spec
        op = s.get("op", "add")
        group = ctx.env.tag_group(s["tag"], s.get("group"))
        ctx.env.manual_tag(ctx, tag=s["tag"], group=group, value=s.get("value"), add=op == "add")
        ctx.log("tag", step.id, detail={"tag": s["tag"], "group": group, "op": op})
        return Outcome(step.next, ctx.now)


class Task(Action):
    """A shopping-guide task (siyu.activation.tasks.create_task), same transaction."""

    name = "task"
    required = ("kind", "title")
    optional = ("script", "due_in")

    def check_values(self, spec, path, problem):
        if not isinstance(spec.get("kind"), str) or not _KIND.match(spec["kind"]):
            problem(path + ("kind",), "kind must match [a-z][a-z0-9_]* (at most 32)")
        _check_template(spec.get("title"), path + ("title",), problem)
        if "script" in spec:
            _check_template(spec["script"], path + ("script",), problem)
        if "due_in" in spec and parse_duration(str(spec["due_in"])) is None:
            problem(path + ("due_in",), "due_in must be a duration like 1d / 4h")

    def run(self, ctx, step):
        s = step.spec
        due = ctx.now + (parse_duration(str(s.get("due_in", "1d"))) or timedelta(days=1))
        # a task reached late is still work while its due time is not long past
        if ctx.suppress_late(step, due=due, action="task", kind=s["kind"]):
            return Outcome(step.next, ctx.now)
        due = max(due, ctx.done_at())  # keeps the journey's due, never before its creation
        fields = ctx.fields()
        ctx.env.task(ctx, step, kind=s["kind"], title=render(s["title"], fields),
                     script=render(s["script"], fields) if s.get("script") else None,
                     due_at=due)
        ctx.log("task", step.id, detail={"kind": s["kind"]})
        return Outcome(step.next, ctx.now)


class Handover(Action):
    """Hand the consumer over to a person: a guide task of kind ``handover``."""

    name = "handover"
    required = ("reason",)
    optional = ("script",)

    def check_values(self, spec, path, problem):
        _text(spec, "reason", path, problem)
        if "script" in spec:
            _check_template(spec["script"], path + ("script",), problem)

    def run(self, ctx, step):
        s = step.spec
        due = ctx.now + timedelta(hours=4)
        if ctx.suppress_late(step, due=due, action="task", kind="handover"):
            return Outcome(step.next, ctx.now)
        ctx.env.task(ctx, step, kind="handover", title=str(s["reason"]),
                     script=render(s["script"], ctx.fields()) if s.get("script") else None,
                     due_at=max(due, ctx.done_at()))
        ctx.log("task", step.id, detail={"kind": "handover"})
        return Outcome(step.next, ctx.now)


class Webhook(Action):
    """A call to a URL: an outbox row on channel ``webhook`` (delivered by the dispatcher)."""

    name = "webhook"
    required = ("url",)
    optional = ("body",)

    def check_values(self, spec, path, problem):
        u = spec.get("url")
        if not isinstance(u, str) or not re.match(r"^https?://[^\s/]+", u):
            problem(path + ("url",), "url must be an http:// or https:// address")
        b = spec.get("body", {})
        if not isinstance(b, dict):
            problem(path + ("body",), "body must be a mapping")
        else:
            for k, v in b.items():
                if isinstance(v, str):
                    _check_template(v, path + ("body", k), problem)

    def run(self, ctx, step):
        if ctx.suppress_late(step, channel="webhook"):  # would tell of something long past
            return Outcome(step.next, ctx.now)
        fields = ctx.fields()
        body = {k: render(v, fields) if isinstance(v, str) else v
                for k, v in (step.spec.get("body") or {}).items()}
        body.setdefault("consumer_id", ctx.consumer_id)
        body.setdefault("journey", ctx.journey.name)
        ctx.env.outbox(ctx, step, channel="webhook", purpose=None, recipient=step.spec["url"],
                       payload={"body": body, "journey": ctx.journey.name, "step": step.id})
        ctx.log("webhook", step.id)
        return Outcome(step.next, ctx.now)


ACTIONS: dict[str, Action] = {a.name: a() for a in (Send, Coupon, Points, Tag, Task, Webhook,
                                                   Handover)}

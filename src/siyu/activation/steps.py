"""Step kinds (a registry of small classes): ``wait``, ``branch``, ``split``, ``exit`` and the
action steps of :mod:`.actions`. Each kind checks its YAML and runs one step of an enrolment,
returning an :class:`Outcome` (where to go next and when)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from siyu.activation.clock import next_time_of_day, parse_time_of_day
from siyu.activation.definition import NAME_RE, Step

__all__ = ["STEP_KINDS", "StepKind", "Outcome", "check_steps", "normalise_steps", "split_arm",
           "HOLDOUT"]

HOLDOUT = "holdout"
DUR_KEYS = ("days", "hours", "minutes")


@dataclass
class Outcome:
    goto: str | None            # next step id, "end", or None = stay on this step (deferred)
    at: datetime                # when the next step runs
    status: str | None = None   # "exited" to end as exited rather than done
    reason: str | None = None
    arm: str | None = None
    wait_started: bool = False


class StepKind:
    name: ClassVar[str]

    def check(self, spec: Any, path: tuple, problem) -> None:
        raise NotImplementedError

    def targets(self, spec: Any) -> list[tuple[tuple, str]]:
        """Step ids this step may jump to (besides ``next``), with their path."""
        return []

    def run(self, ctx, step: Step) -> Outcome:
        raise NotImplementedError


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


class Wait(StepKind):
    name = "wait"

    def check(self, spec, path, problem):
        if not isinstance(spec, dict) or not spec:
            problem(path, "wait takes {days, hours, minutes} and/or until: \"HH:MM\"")
            return
        for k, v in spec.items():
            if k in DUR_KEYS:
                if not _whole(v):
                    problem(path + (k,), f"{k} must be a whole number ≥ 0")
            elif k == "until":
                if parse_time_of_day(str(v)) is None:
                    problem(path + (k,), "until must be a time of day HH:MM (brand time)")
            else:
                problem(path + (k,), f"unknown key {k!r}; known: days, hours, minutes, until")

    def run(self, ctx, step):
        s = step.spec
        at = ctx.now + timedelta(days=s.get("days", 0), hours=s.get("hours", 0),
                                 minutes=s.get("minutes", 0))
        if "until" in s:
            at = next_time_of_day(at, parse_time_of_day(str(s["until"])), ctx.env.zone)
        return Outcome(step.next, at, wait_started=True)


class Branch(StepKind):
    name = "branch"

    def check(self, spec, path, problem):
        from siyu.activation.conditions import check_condition

        if not isinstance(spec, dict):
            problem(path, "branch takes {if: CONDITION, then: STEP, else: STEP}")
            return
        for k in spec:
            if k not in ("if", "then", "else"):
                problem(path + (k,), f"unknown key {k!r}; known: if, then, else")
        for k in ("if", "then", "else"):
            if k not in spec:
                problem(path, f"branch needs {k!r}")
        if "if" in spec:
            check_condition(spec["if"], path + ("if",), problem)

    def targets(self, spec):
        return [(("then",), spec.get("then")), (("else",), spec.get("else"))]

    def run(self, ctx, step):
        from siyu.activation.conditions import evaluate

        ok = evaluate(step.spec["if"], ctx)
        return Outcome(step.spec["then" if ok else "else"], ctx.now)


def split_arm(enrolment_id: str, step_id: str, arms: list[dict], holdout: float) -> dict:
    """The arm of an enrolment: a stable hash of (enrolment, step) onto the shares."""
    h = int.from_bytes(hashlib.sha256(f"{enrolment_id}/{step_id}".encode()).digest()[:8], "big")
    x = (h / 2**64) * 100
    acc = 0.0
    for a in arms:
        acc += a["share"]
        if x < acc:
            return a
    return {"name": HOLDOUT, "goto": "end"}


class Split(StepKind):
    name = "split"

    def check(self, spec, path, problem):
        if not isinstance(spec, dict) or not isinstance(spec.get("arms"), list) or \
                not spec["arms"]:
            problem(path, "split takes {arms: [{name, share, goto}], holdout: SHARE}")
            return
        for k in spec:
            if k not in ("arms", "holdout"):
                problem(path + (k,), f"unknown key {k!r}; known: arms, holdout")
        total, names, bad = 0.0, set(), False
        for i, a in enumerate(spec["arms"]):
            p = path + ("arms", i)
            if not isinstance(a, dict):
                problem(p, "an arm is {name, share, goto}")
                bad = True
                continue
            for k in a:
                if k not in ("name", "share", "goto"):
                    problem(p + (k,), f"unknown key {k!r}; known: name, share, goto")
            n = a.get("name")
            if not isinstance(n, str) or not NAME_RE.match(n) or n == HOLDOUT:
                problem(p + ("name",), "arm name must match [a-z][a-z0-9_]* and not be holdout")
            elif n in names:
                problem(p + ("name",), f"arm name {n!r} given twice")
            names.add(n)
            sh = a.get("share")
            if not isinstance(sh, (int, float)) or isinstance(sh, bool) or not 0 < sh <= 100:
                problem(p + ("share",), "share must be a percentage in (0, 100]")
                bad = True
            else:
                total += sh
        ho = spec.get("holdout", 0)
        if not isinstance(ho, (int, float)) or isinstance(ho, bool) or not 0 <= ho < 100:
            problem(path + ("holdout",), "holdout must be a percentage in [0, 100)")
            bad = True
        else:
            total += ho
        if not bad and abs(total - 100) > 1e-9:
            problem(path, f"arm shares and holdout add up to {total:g}, not 100")

    def targets(self, spec):
        return [(("arms", i, "goto"), a.get("goto")) for i, a in enumerate(spec.get("arms", []))
                if isinstance(a, dict)]

    def run(self, ctx, step):
        arm = split_arm(ctx.enrolment_id, step.id, step.spec["arms"],
                        step.spec.get("holdout", 0))
        return Outcome(arm.get("goto") or "end", ctx.now, arm=arm["name"])


class Exit(StepKind):
    name = "exit"

    def check(self, spec, path, problem):
        if spec is None:
            return
        if not isinstance(spec, dict) or any(k != "reason" for k in spec):
            problem(path, "exit takes {} or {reason: TEXT}")

    def run(self, ctx, step):
        reason = (step.spec or {}).get("reason") or "exit_step"
        return Outcome("end", ctx.now, status="exited", reason=str(reason))


class ActionStep(StepKind):
    """A step that performs an action of :data:`siyu.activation.actions.ACTIONS`."""

    def __init__(self, action):
        self.action = action
        self.name = action.name

    def check(self, spec, path, problem):
        self.action.check(spec, path, problem)

    def run(self, ctx, step):
        return self.action.run(ctx, step)


def _registry() -> dict[str, StepKind]:
    from siyu.activation.actions import ACTIONS

    kinds: dict[str, StepKind] = {k.name: k() for k in (Wait, Branch, Split, Exit)}
    for a in ACTIONS.values():
        kinds[a.name] = ActionStep(a)
    return kinds


class _Lazy(dict):
    def _fill(self):
        if not super().__len__():
            self.update(_registry())

    def __getitem__(self, k):
        self._fill()
        return super().__getitem__(k)

    def __contains__(self, k):
        self._fill()
        return super().__contains__(k)

    def __iter__(self):
        self._fill()
        return super().__iter__()

    def keys(self):
        self._fill()
        return super().keys()

    def get(self, k, default=None):
        self._fill()
        return super().get(k, default)


STEP_KINDS: dict[str, StepKind] = _Lazy()
"""Step kind name → kind (the built-in ones and every action)."""


def _ids(steps: list) -> list[str | None]:
    out = []
    for i, s in enumerate(steps):
        sid = s.get("id") if isinstance(s, dict) else None
        out.append(sid if sid is not None else f"s{i + 1}")
    return out


def check_steps(steps: Any, path: tuple, problem, kinds: dict[str, StepKind]) -> None:
    if not isinstance(steps, list) or not steps:
        problem(path, "steps must be a non-empty list")
        return
    ids = _ids(steps)
    seen: set[str] = set()
    for i, (s, sid) in enumerate(zip(steps, ids, strict=True)):
        p = path + (i,)
        if not isinstance(s, dict):
            problem(p, f"a step is a mapping with one kind key ({', '.join(kinds)})")
            continue
        if not isinstance(sid, str) or not NAME_RE.match(sid) or sid == "end":
            problem(p + ("id",), "step id must match [a-z][a-z0-9_]* and not be 'end'")
        elif sid in seen:
            problem(p + ("id",), f"step id {sid!r} given twice")
        seen.add(str(sid))
        kind_keys = [k for k in s if k not in ("id", "next")]
        if len(kind_keys) != 1 or kind_keys[0] not in kinds:
            unknown = [k for k in kind_keys if k not in kinds]
            why = (f"unknown step kind {unknown[0]!r}" if unknown else
                   "a step needs exactly one kind key")
            problem(p + ((unknown[0],) if unknown else ()),
                    f"{why}; known: {', '.join(kinds.keys())}")
            continue
        kind = kinds[kind_keys[0]]
        kind.check(s[kind_keys[0]], p + (kind_keys[0],), problem)
    valid = set(x for x in ids if isinstance(x, str)) | {"end"}
    for i, s in enumerate(steps):
        if not isinstance(s, dict):
            continue
        refs = []
        if "next" in s:
            refs.append((("next",), s["next"]))
        kk = [k for k in s if k not in ("id", "next")]
        if len(kk) == 1 and kk[0] in kinds and s[kk[0]] is not None:
            spec = s[kk[0]]
            if isinstance(spec, dict):
                refs += [((kk[0],) + sub, t) for sub, t in kinds[kk[0]].targets(spec)]
        for sub, t in refs:
            if t is not None and t not in valid:
                problem(path + (i,) + sub, f"no step with id {t!r} (use a step id or end)")


def normalise_steps(steps: list[dict]) -> list[Step]:
    ids = _ids(steps)
    out = []
    for i, (s, sid) in enumerate(zip(steps, ids, strict=True)):
        kind = next(k for k in s if k not in ("id", "next"))
        nxt = s.get("next") or (ids[i + 1] if i + 1 < len(ids) else "end")
        out.append(Step(id=sid, kind=kind, spec=s[kind], next=nxt))
    return out

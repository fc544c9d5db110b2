"""What every channel shares: the message a channel is handed, the outcomes it returns, the
error classes providers' answers map to, and the registry of channel classes.

A channel is a small class registered under its outbox name::

    @register
    class Pigeon(Channel):
        name = "pigeon"
        def send(self, msg: Message) -> Outcome:
            ...
            return Sent("pigeon-42")

The built-in channels register themselves exactly the same way (``siyu.channels.builtin``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from siyu.errors import SiyuError

__all__ = ["Message", "Sent", "Retry", "Dead", "Deferred", "Outcome", "Channel",
           "ChannelError", "TransientError", "PermanentError", "RateLimited",
           "register", "get_channel_class", "channel_names", "CHANNELS"]


@dataclass(frozen=True)
class Message:
    """One outbox row as a channel sees it."""

    id: int
    idempotency_key: str
    channel: str
    recipient: str | None
    payload: dict[str, Any]
    attempt: int
    consumer_id: str | None = None
    guide_id: str | None = None
    purpose: str | None = None
    created_at: datetime | None = None
    in_doubt: bool = False
    """An earlier attempt was claimed by a dispatcher that died: it may have reached the
    provider."""


@dataclass(frozen=True)
class Sent:
    provider_message_id: str | None = None
    receipt: str = "sent"
    """`sent`, or `delivered` when the provider confirmed delivery in its answer."""


@dataclass(frozen=True)
class Retry:
    """A transient failure: try again later (at least ``after`` seconds)."""

    error: str
    after: float | None = None
    rate_limited: bool = False
    maybe_delivered: bool = False
    """The request reached the provider but no answer came back (read timeout, dropped
    connection): the next attempt is *in doubt*."""
    before: float | None = None
    """Retry within this many seconds whatever the backoff says (a short-lived code: the
    WelcomeCode of a welcome message is valid for 20 s)."""


@dataclass(frozen=True)
class Dead:
    """A permanent failure: the message goes to the dead letters with this reason."""

    error: str


@dataclass(frozen=True)
class Deferred:
    """Not attempted (the channel is paused): back to the queue without using an attempt."""

    until: datetime


Outcome = Sent | Retry | Dead | Deferred


class ChannelError(SiyuError):
    """A provider answered with an error (code and message say which)."""


class TransientError(ChannelError):
    """Timeouts, 5xx, busy codes: worth retrying."""

    def __init__(self, msg: str, after: float | None = None, *, maybe_delivered: bool = False):
        super().__init__(msg)
        self.after = after
        self.maybe_delivered = maybe_delivered


class RateLimited(TransientError):
    """The provider's rate limit (WeCom 45009, HTTP 429…): pause the channel."""


class PermanentError(ChannelError):
    """Wrong recipient, refused template, bad credentials: retrying cannot help."""


def outcome_of(e: Exception) -> Outcome:
    """The outcome an exception raised inside a send stands for."""
    if isinstance(e, RateLimited):
        return Retry(str(e), e.after, rate_limited=True)
    if isinstance(e, TransientError):
        return Retry(str(e), e.after, maybe_delivered=e.maybe_delivered)
    if isinstance(e, PermanentError):
        return Dead(str(e))
    return Retry(f"{type(e).__name__}: {str(e)[:200]}")


class Channel:
    """Base of every channel. Subclasses set ``name`` and implement :meth:`send` (or
    :meth:`send_many` when the provider takes several recipients in one call)."""

    name: ClassVar[str] = ""
    default_concurrency: ClassVar[int] = 4
    uses_http: ClassVar[bool] = True
    idempotent: ClassVar[bool] = False
    """True when resending a message the provider may already have is harmless (the provider
    deduplicates on a key siyu sends). In-doubt messages of other channels are resolved with
    :meth:`resolve_in_doubt` or dead-lettered rather than risk a second delivery."""

    def __init__(self, ws, http=None):
        self.ws = ws
        self.settings = ws.settings
        self.http = http
        self.paused_until: datetime | None = None
        self._lock = threading.Lock()

    # -- the contract ------------------------------------------------------------------------
    def send(self, msg: Message) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self) -> list[tuple[str, str]]:
        """Steps of `siyu channels test` before the send: (step, result) pairs; raise a
        ChannelError when a step fails (e.g. the access token cannot be fetched)."""
        return []

    def resolve_in_doubt(self, msg: Message) -> Outcome | None:
        """For an in-doubt message: Sent when the provider already has it, None when it does
        not (it is then sent). The default cannot tell, so non-idempotent channels
        dead-letter it."""
        if self.idempotent:
            return None
        return Dead("in doubt: an earlier attempt may have been delivered; not resent "
                    "(`siyu outbox retry ID` resends it)")

    def concurrency(self) -> int:
        return int(self.settings.channel_concurrency.get(self.name, self.default_concurrency))

    # -- what the dispatcher calls -----------------------------------------------------------
    def send_one(self, msg: Message) -> Outcome:
        try:
            if msg.in_doubt:
                got = self.resolve_in_doubt(msg)
                if got is not None:
                    return got
            return self.send(msg)
        except Exception as e:  # every failure becomes an outcome; none escapes
            return outcome_of(e)

    def send_many(self, msgs: list[Message], pool: ThreadPoolExecutor | None = None,
                  on_rate_limit: Callable[[Retry], None] | None = None) -> list[Outcome]:
        """Send ``msgs`` with at most :meth:`concurrency` in flight; once the provider
        reports its rate limit the rest are deferred, not attempted."""
        if len(msgs) <= 1 or self.concurrency() <= 1 or pool is None:
            return [self._guarded(m, on_rate_limit) for m in msgs]
        sem = threading.Semaphore(self.concurrency())

        def run(m: Message) -> Outcome:
            with sem:
                return self._guarded(m, on_rate_limit)

        return list(pool.map(run, msgs))

    def _guarded(self, m: Message, on_rate_limit) -> Outcome:
        if self.paused_until is not None:
            return Deferred(self.paused_until)
        got = self.send_one(m)
        if isinstance(got, Retry) and got.rate_limited and on_rate_limit is not None:
            on_rate_limit(got)
        return got


CHANNELS: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    """Class decorator: make ``cls`` the channel of its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no channel name")
    CHANNELS[cls.name] = cls
    return cls


def get_channel_class(name: str) -> type[Channel]:
    from siyu.channels import builtin  # noqa: F401  (registers the built-in channels)

    try:
        return CHANNELS[name]
    except KeyError:
        from siyu.errors import UsageError
        from siyu.i18n import tr

        raise UsageError(tr("未知渠道 {n}（可用：{k}）", "unknown channel {n!r} (known: {k})",
                            n=name, k=", ".join(sorted(CHANNELS)))) from None


def channel_names() -> list[str]:
    from siyu.channels import builtin  # noqa: F401

    return sorted(CHANNELS)


@dataclass
class SendGuards:
    """Checks run just before sending (e.g. consent revoked since the row was written):
    each takes (ws, messages) and returns {outbox id: reason} for messages not to send."""

    checks: list[Callable[[Any, list[Message]], dict[int, str]]] = field(default_factory=list)

    def add(self, fn):
        self.checks.append(fn)
        return fn


send_guards = SendGuards()

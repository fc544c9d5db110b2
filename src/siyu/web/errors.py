"""API errors: JSON ``{"code", "message": {"zh", "en"}}`` with an HTTP status.

Errors raised by the service layers (:class:`~siyu.errors.SiyuError`) carry one message in the
current language; :func:`bilingual` re-runs a cheap, read-only call in the other language to
get both texts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from siyu.errors import SiyuError, UsageError, WorkspaceBusy
from siyu.i18n import current_language, language

__all__ = ["ApiError", "bilingual", "from_siyu_error", "ERROR_SCHEMA"]

T = TypeVar("T")


class ApiError(SiyuError):
    """An error the API reports with ``status``, a stable ``code`` and both languages."""

    def __init__(self, status: int, code: str, zh: str, en: str, **kw: Any):
        self.status = status
        self.code = code
        self.zh = zh.format(**kw) if kw else zh
        self.en = en.format(**kw) if kw else en
        super().__init__(self.en if current_language() == "en" else self.zh)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": {"zh": self.zh, "en": self.en}}


def _status_of(e: SiyuError) -> tuple[int, str]:
    name = type(e).__name__
    if name in ("UnknownKey", "AudienceNotFound", "TaskNotFound", "JourneyNotFound"):
        return 404, "not_found"
    if name in ("NotResolved", "AudienceNotReady"):
        return 409, "not_ready"
    if isinstance(e, WorkspaceBusy):
        return 503, "busy"
    if isinstance(e, UsageError):
        return 400, "bad_request"
    return 400, "failed"


def from_siyu_error(e: SiyuError, other: str | None = None) -> ApiError:
    """An :class:`ApiError` for ``e``; ``other`` is its message in the other language (the
    same text when unknown)."""
    if isinstance(e, ApiError):
        return e
    status, code = _status_of(e)
    here = str(e)
    there = other if other is not None else here
    zh, en = (there, here) if current_language() == "en" else (here, there)
    return ApiError(status, code, zh.replace("{", "{{").replace("}", "}}"),
                    en.replace("{", "{{").replace("}", "}}"))


def bilingual(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """``fn(*args, **kw)``; a :class:`SiyuError` becomes an :class:`ApiError` with the message
    in both languages (``fn`` runs again in the other language — only for cheap calls)."""
    try:
        return fn(*args, **kw)
    except ApiError:
        raise
    except SiyuError as e:
        other_lang = "zh" if current_language() == "en" else "en"
        other = None
        with language(other_lang):
            try:
                fn(*args, **kw)
            except SiyuError as e2:
                other = str(e2)
        raise from_siyu_error(e, other) from None


ERROR_SCHEMA = {
    "description": "An error: a stable code and the message in Chinese and English.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

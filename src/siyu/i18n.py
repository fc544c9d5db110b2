"""User-facing text, Chinese first with an English switch.

Messages are written where they are used as ``tr("中文", "English")``; the language comes from
``--lang``/``SIYU_LANG`` (``zh`` default, ``en``). Identifiers, logs and docs stay English.

>>> with language("en"):
...     tr("已导入", "loaded")
'loaded'
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["tr", "language", "set_language", "current_language", "LANGUAGES"]

LANGUAGES = ("zh", "en")
_lang: ContextVar[str | None] = ContextVar("siyu_lang", default=None)


def current_language() -> str:
    lang = _lang.get() or os.environ.get("SIYU_LANG", "zh")
    lang = lang.lower().split("-")[0].split("_")[0]
    return lang if lang in LANGUAGES else "zh"


def set_language(lang: str | None) -> None:
    _lang.set(lang)


@contextmanager
def language(lang: str):
    token = _lang.set(lang)
    try:
        yield
    finally:
        _lang.reset(token)


def tr(zh: str, en: str, **kw) -> str:
    """The message in the current language, formatted with ``kw``."""
    msg = en if current_language() == "en" else zh
    return msg.format(**kw) if kw else msg

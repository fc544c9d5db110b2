"""jieba segmentation, initialised quietly, offline, with its cache in a user cache directory."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path

with warnings.catch_warnings():  # jieba imports the deprecated pkg_resources: not the user's
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated",  # concern
                            category=UserWarning)
    import jieba

__all__ = ["Segmenter", "cache_dir"]

# particles split off the end of a lexicon word whose rest is a lexicon word too
TRAILING = frozenset("了啦咯哦呢吧啊呀的")

# modal verbs and adverbs jieba glues to a one-character lexicon word ("想送", "能免", "要寄"):
# such a two-character token that is no lexicon word itself is split in two
MODALS = frozenset("想要能会可得该就都也还再才又只快先")

# a user word gets at least this frequency, so that lexicon entries stay whole tokens
USER_WORD_FREQ = 200_000

_lock = threading.Lock()


def cache_dir() -> Path:
    """Where jieba keeps its prefix-dictionary cache: $XDG_CACHE_HOME/siyu/jieba, else a temp dir."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "siyu" / "jieba"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".w"
        probe.touch()
        probe.unlink()
    except OSError:
        path = Path(tempfile.gettempdir()) / "siyu-jieba"
        path.mkdir(parents=True, exist_ok=True)
    return path


class Segmenter:
    """A private jieba tokenizer with the lexicon's vocabulary added (HMM off: deterministic)."""

    def __init__(
        self,
        vocabulary: set[str],
        negators: frozenset[str] = frozenset(),
        split: frozenset[str] = frozenset(),
        degree: frozenset[str] = frozenset(),
        singles: frozenset[str] = frozenset(),
    ) -> None:
        jieba.setLogLevel(logging.WARNING)
        tok = jieba.Tokenizer()
        tok.tmp_dir = str(cache_dir())
        with _lock:
            tok.initialize()
        for w in sorted(vocabulary):
            tok.add_word(w, freq=max(USER_WORD_FREQ, tok.FREQ.get(w, 0) or 0))
        for w in sorted(split):  # jieba words that glue a cue to its neighbours ("让我帮")
            tok.del_word(w)
        self._cut = tok.cut
        self._vocab = frozenset(vocabulary)
        self._negators = tuple(sorted(negators, key=len, reverse=True))
        self._degree = frozenset(d for d in degree if len(d) <= 2)
        # one-character lexicon words a modal may be glued to ("送", "免", "寄")
        self._singles = frozenset(w for w in singles if len(w) == 1)

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text``; they concatenate back to ``text`` exactly."""
        out: list[str] = []
        for t in self._cut(text, HMM=False):
            self._split(t, out, 2)
        return out

    def _split(self, t: str, out: list[str], depth: int) -> None:
        """jieba's dictionary glues lexicon words to their neighbours ("有点失望", "没有用完",
        "垃圾东西"): split a token at its longest lexicon-word prefix or suffix. Cues match on
        concatenated tokens, so a split never loses a match; it only exposes the inner word.
        Lexicon words themselves lose a leading degree word or a trailing particle when the rest
        is a lexicon word ("太离谱" → 太 / 离谱, "几次了" → 几次 / 了, "宣传的" → 宣传 / 的), so that
        a pattern in another scenario ("价格 * 离谱") still sees the inner word. A modal glued to
        a one-character lexicon word is split off ("想送" → 想 / 送, "能免" → 能 / 免)."""
        if depth and len(t) > 2 and t in self._vocab:
            if t[-1] in TRAILING and t[:-1] in self._vocab:
                self._split(t[:-1], out, depth - 1)
                out.append(t[-1])
                return
            for n in (2, 1):
                if t[:n] in self._degree and len(t) - n > 1 and t[n:] in self._vocab:
                    out.append(t[:n])
                    self._split(t[n:], out, depth - 1)
                    return
        if len(t) == 2 and t[0] in MODALS and t[1] in self._singles and t not in self._vocab:
            out.append(t[0])
            out.append(t[1])
            return
        if depth and len(t) > 2 and t not in self._vocab:
            vocab = self._vocab
            for n in range(len(t) - 1, 1, -1):
                if t[:n] in vocab:
                    out.append(t[:n])
                    self._split(t[n:], out, depth - 1)
                    return
                if t[-n:] in vocab:
                    self._split(t[:-n], out, depth - 1)
                    out.append(t[-n:])
                    return
            for n in self._negators:  # a one-character negator before a lexicon word
                if t.startswith(n) and t[len(n) :] in vocab:
                    out.append(n)
                    out.append(t[len(n) :])
                    return
        out.append(t)

"""Detector throughput on one core: ``python -m siyu.tags.text.bench`` (docs/tags.md quotes it).

The messages are those of the shipped evaluation set whose ids start with d, r, s, t or h (the
set before round 2: 794), each with 10 prefixes × 10 suffixes (79,400 unique texts), detected
once each by one :class:`Detector`; the figure is the best of ``rounds`` CPU times.
"""

from __future__ import annotations

import time

from siyu.tags.text.detect import Detector
from siyu.tags.text.evaluate import load_dataset
from siyu.tags.text.lexicon import load_lexicon

__all__ = ["messages", "throughput"]

PREFIXES = (
    "",
    "亲，",
    "你好，",
    "在吗？",
    "客服，",
    "那个，",
    "嗯，",
    "老师好，",
    "请问，",
    "哈哈，",
)
SUFFIXES = ("", "。", "！", "谢谢", "哈哈", "～", "😂", "，急", "，在线等", "？")


def messages() -> list[str]:
    """The benchmark's unique texts, in a fixed order."""
    base = [r["text"] for r in load_dataset() if r["id"][:1] in ("d", "r", "s", "t", "h")]
    return list(dict.fromkeys(p + b + s for b in base for p in PREFIXES for s in SUFFIXES))


def throughput(rounds: int = 5) -> dict[str, float]:
    """``{"messages", "seconds", "per_second"}``: the best of ``rounds`` CPU-time passes."""
    texts = messages()
    det = Detector(load_lexicon())
    det.detect("预热")  # segmenter initialised outside the timing
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        for m in texts:
            det.detect(m)
        best = min(best, time.process_time() - t)
    return {"messages": len(texts), "seconds": round(best, 2), "per_second": len(texts) / best}


if __name__ == "__main__":
    r = throughput()
    print(f"{r['messages']:,} messages, best {r['seconds']} s CPU: {r['per_second']:,.0f}/s")

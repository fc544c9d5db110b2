"""Text tags: chat scenarios and emotions detected in Chinese messages (issue 5, part 2).

>>> from siyu.tags.text import detect
>>> sorted({h.scenario for h in detect("同事问我这是什么牌子，想帮她也买一瓶")})
['buying_for_others']
"""

from siyu.tags.text.detect import Detector, Hit, detect, detect_many, detector_for
from siyu.tags.text.evaluate import evaluate, load_dataset
from siyu.tags.text.lexicon import Lexicon, LexiconError, Scenario, load_lexicon

__all__ = [
    "Detector",
    "Hit",
    "Lexicon",
    "LexiconError",
    "Scenario",
    "detect",
    "detect_many",
    "detector_for",
    "evaluate",
    "load_dataset",
    "load_lexicon",
]

"""Detect chat scenarios and emotions in Chinese messages: jieba tokens, cues, negation, questions.

A cue hits when consecutive tokens spell it exactly (never inside a token: "没用过" holds no
"没用"); a pattern hits when its parts match tokens in order within one sentence (it may span
a comma). A hit is then

- *negated* when a negator stands up to ``negation_window`` tokens before it in its clause
  (with no "但是"-like breaker between) or inside a pattern's last gap: "还没用完了",
  "并不太贵", "没有过敏", "用了一个月没长痘"; a rhetorical word just before the negator
  cancels it (``double_negation``: "怎么可能不生气"); a scenario's ``when_negated`` words hit
  only when negated ("并不是很满意"), those that are also cues either way ("一点也不便宜");
- *blocked* by the scenario's own blockers (same window, also in questions: "等用完了再说",
  "会不会刺痛" is no complaint) or exception phrases overlapping it ("后悔没早点买");
- *questioned* when a clause-final question particle or "?" follows it ("用完了吗", "过敏么?")
  or an A-not-A marker precedes it in its clause ("会不会过敏", "有没有优惠"). The scenario's
  ``on_question`` decides: keep it, drop it, or count it as another scenario. A questioned
  hit that is kept is not negated by a plain negator ("不含酒精吧?" still asks about an
  ingredient).

Negated, blocked and dropped hits are returned only with ``include_suppressed=True`` (with
``negated=True`` or ``questioned=True`` and an ``explain`` that says why).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass

from siyu.tags.text.lexicon import Lexicon, Scenario, load_lexicon
from siyu.tags.text.normalize import normalize, normalize_lexicon
from siyu.tags.text.segment import Segmenter

__all__ = ["Hit", "Detector", "detect", "detect_many", "detector_for"]

CLAUSE_BREAKS = frozenset("，,。.!！?？;；~～…\n\r\t 、：:")
SENTENCE_BREAKS = frozenset("。.!！?？;；~～…\n\r")
EXCLAMATIONS = frozenset("!！")
QUESTION_MARKS = frozenset("?？")
TAIL_WORDS = 40  # the most words a pattern's tail check compiles into one regex
FILLERS = frozenset(["了", "啦", "的", "呀", "啊", "吧", "哦", "呢", "了吧"])


@dataclass(frozen=True, slots=True)
class Hit:
    """One scenario or emotion found in a message.

    ``span`` is the character range [start, end) of the matched cue in the text; ``intensity``
    is 1 plus degree words before it and exclamation marks after it in its clause (at most 3).
    """

    scenario: str
    kind: str
    cue: str
    span: tuple[int, int]
    negated: bool
    questioned: bool
    intensity: int
    explain: str


@dataclass(frozen=True, slots=True)
class _Part:
    kind: str  # "words", "regex", "gap" or "end" (the clause ends here)
    words: frozenset[str] = frozenset()
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class _Pattern:
    scenario: Scenario
    text: str
    parts: tuple[_Part, ...]
    # the words of its last literal part after the head: a match needs one of them in the text
    # after the head, a cheap check before the token-by-token match (None: nothing to check)
    tail: re.Pattern[str] | None = None


class Detector:
    """A lexicon compiled for matching; reuse one for many messages (:func:`detector_for`)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.source = lexicon
        # matched on normalised text (木有 → 没有, 發貨 → 发货, SB → sb): normalise the words too
        self.lexicon = lexicon = normalize_lexicon(lexicon)
        self.seg = Segmenter(
            lexicon.vocabulary(),
            lexicon.words["negators"],
            lexicon.words["split_whole"],
            lexicon.words["degree"],
            _single_words(lexicon),
        )
        self.cues: dict[str, list[Scenario]] = {}
        # per scenario: its when_negated words, and those of them that are no cue (they hit
        # only when negated)
        self._when_neg: dict[str, frozenset[str]] = {}
        self._neg_only: dict[str, frozenset[str]] = {}
        for s in lexicon.scenarios.values():
            for c in s.cues:
                self.cues.setdefault(c, []).append(s)
            for c in s.when_negated:
                if c not in s.cues:
                    self.cues.setdefault(c, []).append(s)
            self._when_neg[s.name] = frozenset(s.when_negated)
            self._neg_only[s.name] = frozenset(s.when_negated) - frozenset(s.cues)
        self.patterns: list[_Pattern] = []
        literals = set(self.cues)
        anchored = True  # every pattern starts with words: the prefilter is exact
        for s in lexicon.scenarios.values():
            for p in s.patterns:
                parts = tuple(self._part(x) for x in p.split())
                self.patterns.append(_Pattern(s, p, parts, _tail(parts)))
                literals.update(parts[0].words)
                anchored = anchored and parts[0].kind == "words"
        self.max_len = max((len(w) for w in self._all_words()), default=1)
        self._exceptions = {s.name: frozenset(s.exceptions) for s in lexicon.scenarios.values()}
        # patterns indexed by the words of their first part (the rest are tried everywhere)
        self._heads: dict[str, list[int]] = {}
        self._unanchored: list[_Pattern] = []
        for k, p in enumerate(self.patterns):
            if p.parts[0].kind == "words":
                for w in p.parts[0].words:
                    self._heads.setdefault(w, []).append(k)
            else:
                self._unanchored.append(p)
        # how far to concatenate tokens from each start: the longest Chinese cue or head. An
        # English word is one jieba token, looked up whatever its length ("disappointed")
        self._head_len = max(
            (len(w) for w in [*self.cues, *self._heads] if not w.isascii()), default=1
        )
        # English phrases of several words ("too expensive") are several tokens: their own limit
        self._ascii_len = max(
            (len(w) for w in [*self.cues, *self._heads] if w.isascii()), default=1
        )
        # a message with none of these substrings cannot hit: skip its segmentation
        alts = sorted(literals, key=len, reverse=True)
        self._prefilter = re.compile("|".join(map(re.escape, alts))) if alts and anchored else None
        w = lexicon.words
        self.negators, self.breakers = w["negators"], w["negation_breakers"]
        self.double = w["double_negation"]
        self.particles, self.markers, self.degree = (
            w["question_particles"],
            w["question_markers"],
            w["degree"],
        )

    def _part(self, text: str) -> _Part:
        if text == "*":
            return _Part("gap")
        if text == "$":
            return _Part("end")
        if len(text) > 2 and text[0] == text[-1] == "/":
            return _Part("regex", regex=re.compile(text[1:-1]))
        words: set[str] = set()
        for alt in text.split("|"):
            words.update(self._expand(alt))
        return _Part("words", frozenset(words))

    def _expand(self, alt: str) -> set[str]:
        """An alternative with classes inlined: "{consume}完" → 用完, 吃完…; a lone class also
        matches its plurals ("朋友们")."""
        m = re.search(r"\{(\w+)\}", alt)
        if m is None:
            return {alt}
        words = self.lexicon.classes[m.group(1)]
        if alt == m.group(0):
            words = words | {w + "们" for w in words}
        out: set[str] = set()
        for w in words:
            out.update(self._expand(alt[: m.start()] + w + alt[m.end() :]))
        return out

    def _all_words(self) -> Iterator[str]:
        yield from self.cues
        for p in self.patterns:
            for part in p.parts:
                yield from part.words
        yield "x" * 12  # room for a regex part

    # -- matching -------------------------------------------------------------------------

    def _spells(self, toks: list[str], i: int, end: int, words: Container[str]) -> Iterator[int]:
        """Token ends j such that toks[i:j] concatenates to one of ``words``."""
        s = ""
        for j in range(i, end):
            s += toks[j]
            if len(s) > self.max_len:
                return
            if s in words:
                yield j + 1

    def _regex_spells(
        self, toks: list[str], i: int, end: int, rx: re.Pattern[str]
    ) -> Iterator[int]:
        s = ""
        for j in range(i, min(end, i + 4)):
            s += toks[j]
            if rx.fullmatch(s):
                yield j + 1

    def _match(
        self,
        parts: tuple[_Part, ...],
        toks: list[str],
        i: int,
        end: int,
        gap: tuple[int, int] = (-1, -1),
    ) -> tuple[int, tuple[int, int]] | None:
        """(end, gap): the match's token end and the token range of its last gap ((-1, -1)
        without one); a negator in that gap negates the match ("用了一个月没长痘")."""
        if not parts:
            return i, gap
        head, rest = parts[0], parts[1:]
        if head.kind == "gap":  # a gap, then the next part (never across a sentence)
            for k in range(i, min(end, i + self.lexicon.gap + 1)):
                r = self._match(rest, toks, k, end, (i, k))
                if r is not None:
                    return r
            return None
        if head.kind == "end":
            if (
                i >= end
                or toks[i] in CLAUSE_BREAKS
                or self._clause_tail(toks, i, self._clause_end(toks, i, end))
            ):
                return self._match(rest, toks, i, end, gap)
            return None
        ends = (
            self._regex_spells(toks, i, end, head.regex)
            if head.regex is not None
            else self._spells(toks, i, end, head.words)
        )
        for j in ends:
            r = self._match(rest, toks, j, end, gap)
            if r is not None:
                return r
        return None

    @staticmethod
    def _clause_end(toks: list[str], i: int, end: int) -> int:
        while i < end and toks[i] not in CLAUSE_BREAKS:
            i += 1
        return i

    def _negator(self, toks: list[str], start: int, a: int, words: Container[str]) -> str | None:
        """A word of ``words`` in the window before token a (a breaker ends the search)."""
        for k in range(a - 1, max(start, a - self.lexicon.negation_window) - 1, -1):
            t = toks[k]
            if t in self.breakers or t in CLAUSE_BREAKS:
                return None
            if t in words:
                if words is self.negators and self._doubled(toks, start, k):
                    return None
                return t
        return None

    def _doubled(self, toks: list[str], start: int, k: int) -> bool:
        """A rhetorical word just before the negator at k cancels it ("怎么可能不生气")."""
        return any(toks[j] in self.double for j in range(max(start, k - 2), k))

    def _excepted(
        self, s: Scenario, toks: list[str], start: int, end: int, a: int, b: int
    ) -> str | None:
        """An exception phrase of the scenario that overlaps tokens [a, b) ("后悔没早点买")."""
        words = self._exceptions.get(s.name)
        if not words:
            return None
        for i in range(max(start, a - 4), min(b, end)):
            for j in self._spells(toks, i, end, words):
                if j > a:
                    return "".join(toks[i:j])
        return None

    def _question(self, toks: list[str], start: int, a: int, b: int, end: int) -> str | None:
        k, seen = b, 0
        while k < end and seen < 3:
            t = toks[k]
            if t in QUESTION_MARKS or (t in self.particles and self._clause_tail(toks, k + 1, end)):
                return t
            if t not in FILLERS:
                break
            k += 1
            seen += 1
        if k < len(toks) and toks[k] in QUESTION_MARKS:
            return toks[k]
        for k in range(start, a):
            t = toks[k]
            if t in self.markers:
                return t
            nxt = toks[k + 1] if k + 1 < a else ""
            if t and nxt in ("不" + t, "没" + t):
                return t + nxt
        return None

    @staticmethod
    def _clause_tail(toks: list[str], k: int, end: int) -> bool:
        """Only fillers, emoji or symbols between token k and the clause's end."""
        return all(t in FILLERS or not any(c.isalnum() for c in t) for t in toks[k:end])

    def _intensity(self, toks: list[str], start: int, a: int, b: int, end: int) -> int:
        n = 1 + sum(1 for k in range(max(start, a - 2), a) if toks[k] in self.degree)
        n += sum(1 for k in range(b, min(len(toks), end + 1)) if toks[k] in EXCLAMATIONS)
        return min(n, 3)

    def _candidates(
        self, toks: list[str], start: int, end: int, text: str, offsets: list[int]
    ) -> Iterator[tuple[Scenario, str, int, int, tuple[int, int]]]:
        """(scenario, what matched, start, end, gap): ``gap`` is a pattern's last gap.
        ``text`` is the (normalised) text the tokens spell, ``offsets`` their start offsets."""
        cues, heads, limit = self.cues, self._heads, self._head_len
        alimit = self._ascii_len
        stop = offsets[end]
        for i in range(start, end):
            done: set[int] = set()
            s = ""
            for j in range(i, end):  # every string spelled by tokens from i: one dict look-up
                s += toks[j]
                if len(s) > limit and j > i and (len(s) > alimit or not s.isascii()):
                    break
                for sc in cues.get(s, ()):
                    yield sc, f'cue "{s}"', i, j + 1, (-1, -1)
                for k in heads.get(s, ()):
                    if k in done:
                        continue
                    p = self.patterns[k]
                    if p.tail is not None and p.tail.search(text, offsets[j + 1], stop) is None:
                        continue
                    r = self._match(p.parts[1:], toks, j + 1, end)
                    if r is not None:
                        done.add(k)
                        yield p.scenario, f'pattern "{p.text}"', i, r[0], r[1]
            for p in self._unanchored:
                r = self._match(p.parts, toks, i, end)
                if r is not None:
                    yield p.scenario, f'pattern "{p.text}"', i, r[0], r[1]

    def detect(self, text: str, *, include_suppressed: bool = False) -> list[Hit]:
        """Hits in ``text``; negated or question-dropped hits only with ``include_suppressed``."""
        if not text:
            return []
        norm = normalize(text)  # same length: offsets hold for ``text``
        if self._prefilter is not None and not self._prefilter.search(norm):
            return []
        toks = self.seg.tokens(norm)
        offsets = [0]
        for t in toks:
            offsets.append(offsets[-1] + len(t))
        # clause_start[k]: where the clause holding token k starts (clauses end at any
        # punctuation; sentences, which patterns may span, only at 。！？ and the like)
        n = len(toks)
        clause_start = [0] * n
        c = 0
        for k, t in enumerate(toks):
            if t in CLAUSE_BREAKS:
                c = k + 1
            clause_start[k] = c
        hits: list[Hit] = []
        start = 0
        for k in range(n + 1):
            if k == n or toks[k] in SENTENCE_BREAKS:
                if k > start:
                    hits.extend(
                        self._sentence(
                            text, norm, toks, offsets, clause_start, start, k, include_suppressed
                        )
                    )
                start = k + 1
        return _dedupe(hits)

    def _sentence(
        self,
        text: str,
        norm: str,
        toks: list[str],
        offsets: list[int],
        clause_start: list[int],
        sstart: int,
        send: int,
        include: bool,
    ) -> Iterator[Hit]:
        scenarios = self.lexicon.scenarios
        for s, how, a, b, gap in self._candidates(toks, sstart, send, norm, offsets):
            # negation looks back within the clause of the match's start; questions look at
            # the clause of its end
            start = clause_start[a]
            end = self._clause_end(toks, b, send)
            matched = text[offsets[a] : offsets[b]]
            q = self._question(toks, start, a, b, end)
            neg = None
            if s.negatable:
                neg = self._negator(toks, start, a, self.negators)
                if neg is None and gap[1] > gap[0]:
                    neg = self._negator(toks, gap[0], gap[1], self.negators)
            block = None
            if s.blockers:
                block = self._negator(toks, start, a, s.blockers)
                if block is None and gap[1] > gap[0]:
                    block = self._negator(toks, gap[0], gap[1], s.blockers)
            block = block or self._excepted(s, toks, start, end, a, b)
            word = norm[offsets[a] : offsets[b]]
            if how[0] == "c" and word in self._when_neg[s.name]:  # a cue of when_negated
                if word in self._neg_only[s.name] and (neg is None or q is not None):
                    continue  # "满意" alone is no hit; "不满意吗" asks
                if neg is not None and block is None:
                    how = f'{how} (negated "{neg}": counts)'
                    neg = None
            target, dropped = s, False
            notes = [f'{how} matched "{matched}" at {offsets[a]}-{offsets[b]}']
            if q is not None:
                if s.on_question == "drop":
                    dropped = True
                    notes.append(f'in a question ("{q}"): dropped')
                elif s.on_question != "keep":
                    target = scenarios[s.on_question]
                    notes.append(f'in a question ("{q}"): counted as {target.name}')
                else:
                    notes.append(f'in a question ("{q}"): kept')
                if neg is not None and not dropped:
                    notes.append(f'"{neg}" ignored in a question')
                    neg = None
            if neg is not None:
                notes.append(f'negated by "{neg}"')
            if block is not None:
                notes.append(f'blocked by "{block}"')
                neg = neg or block
            if (neg is not None or dropped) and not include:
                continue
            yield Hit(
                scenario=target.name,
                kind=target.kind,
                cue=matched,
                span=(offsets[a], offsets[b]),
                negated=neg is not None,
                questioned=q is not None,
                intensity=self._intensity(toks, start, a, b, end),
                explain=f"{target.name} ({target.label}): " + "; ".join(notes),
            )


def _single_words(lex: Lexicon) -> frozenset[str]:
    """The one-character cues and pattern words (the segmenter splits a modal off them)."""
    out: set[str] = set()
    for s in lex.scenarios.values():
        out.update(c for c in s.cues if len(c) == 1)
        for p in s.patterns:
            for part in p.split():
                out.update(a for a in part.split("|") if len(a) == 1 and a not in "*$")
    return frozenset(out)


def _tail(parts: tuple[_Part, ...]) -> re.Pattern[str] | None:
    """A regex of the words of the last literal part after the first one, for patterns with a
    gap (an adjacent part fails fast anyway) and a short enough list of words (a long
    alternation costs more than the match it would save)."""
    if not any(p.kind == "gap" for p in parts):
        return None
    for part in reversed(parts[1:]):
        if part.kind == "words":
            if len(part.words) > TAIL_WORDS:
                return None
            alts = sorted(part.words, key=len, reverse=True)
            return re.compile("|".join(map(re.escape, alts)))
    return None


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """Per scenario, drop a hit whose span lies inside another one's (keep the longest)."""
    out: list[Hit] = []
    for h in sorted(hits, key=lambda h: (h.span[0], -(h.span[1] - h.span[0]))):
        if any(
            o.scenario == h.scenario
            and o.negated == h.negated
            and o.span[0] <= h.span[0]
            and h.span[1] <= o.span[1]
            for o in out
        ):
            continue
        out.append(h)
    return out


_DETECTORS: dict[int, tuple[Lexicon, Detector]] = {}


def detector_for(lexicon: Lexicon | None = None) -> Detector:
    """The compiled detector of ``lexicon`` (default: the built-in one), built once and cached."""
    lex = lexicon if lexicon is not None else load_lexicon()
    hit = _DETECTORS.get(id(lex))
    if hit is None or hit[0] is not lex:
        hit = (lex, Detector(lex))
        _DETECTORS[id(lex)] = hit
    return hit[1]


def detect(
    text: str, lexicon: Lexicon | None = None, *, include_suppressed: bool = False
) -> list[Hit]:
    """Scenarios and emotions in one chat message.

    >>> [(h.scenario, h.cue) for h in detect("面霜快用完了，有没有优惠？")]
    [('cycle_due', '快用完了'), ('price_sensitive', '优惠')]
    >>> detect("还没用完呢")
    []
    """
    return detector_for(lexicon).detect(text, include_suppressed=include_suppressed)


def detect_many(texts: Iterable[str], lexicon: Lexicon | None = None) -> list[list[Hit]]:
    """:func:`detect` over many messages, segmenting each distinct text once."""
    det = detector_for(lexicon)
    memo: dict[str, list[Hit]] = {}
    out: list[list[Hit]] = []
    for t in texts:
        r = memo.get(t)
        if r is None:
            r = det.detect(t)
            if len(memo) < 200_000:
                memo[t] = r
        out.append(r)
    return out

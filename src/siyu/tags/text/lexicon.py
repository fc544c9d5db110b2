"""The lexicon: cue words, patterns, negators and question markers, built in and brand-extended.

The built-in lexicon ships as ``lexicon/builtin.toml``; a brand file in the same format is
merged over it (lists extended, scalars replaced, new scenarios added) by :func:`load_lexicon`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from siyu.errors import SiyuError

__all__ = ["Lexicon", "LexiconError", "Scenario", "load_lexicon"]

KINDS = ("scenario", "emotion")
WORD_KEYS = (
    "negators",
    "negation_breakers",
    "question_particles",
    "question_markers",
    "degree",
    "keep_whole",
    "split_whole",
    "double_negation",
)
SCENARIO_KEYS = {
    "kind",
    "label",
    "negatable",
    "on_question",
    "cues",
    "patterns",
    "blockers",
    "exceptions",
    "when_negated",
}
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class LexiconError(SiyuError):
    """A lexicon file that cannot be used; the message names the file, key and reason."""


@dataclass(frozen=True)
class Scenario:
    """One scenario or emotion: its cues, token patterns and how negation and questions apply."""

    name: str
    kind: str
    label: str
    negatable: bool
    on_question: str
    cues: tuple[str, ...]
    patterns: tuple[str, ...]
    blockers: frozenset[str] = frozenset()
    exceptions: tuple[str, ...] = ()
    # words that hit only when negated ("不满意", "一点也不便宜"); a word that is also a cue
    # hits whether negated or not
    when_negated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lexicon:
    """Everything the detector needs; build it with :func:`load_lexicon`."""

    scenarios: dict[str, Scenario]
    words: dict[str, frozenset[str]]
    classes: dict[str, frozenset[str]]
    negation_window: int = 3
    gap: int = 6
    sources: tuple[str, ...] = field(default_factory=tuple)

    def vocabulary(self) -> set[str]:
        """Every literal the segmenter should keep whole (cues, markers, class words)."""
        out: set[str] = set()
        for s in self.scenarios.values():
            out.update(s.cues)
            out.update(s.when_negated)
            for p in s.patterns:
                for part in p.split():
                    if part not in ("*", "$") and not part.startswith("/"):
                        out.update(a for a in part.split("|") if "{" not in a)
        for key in ("question_markers", "negators", "keep_whole", "double_negation"):
            out.update(self.words[key])
        for s in self.scenarios.values():
            out.update(s.blockers)
            out.update(s.exceptions)
        for ws in self.classes.values():
            out.update(ws)
        return {w for w in out if len(w) > 1}


def _builtin_text() -> str:
    return resources.files("siyu.tags.text").joinpath("lexicon/builtin.toml").read_text("utf-8")


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # the message carries "(at line N, column M)"
        raise LexiconError(f"{source}: not valid TOML: {e}") from e


def _err(source: str, key: str, why: str) -> LexiconError:
    return LexiconError(f"{source}: [{key}] {why}")


def _str_list(value: Any, source: str, key: str) -> list[str]:
    if not isinstance(value, list):
        raise _err(source, key, f"must be a list of strings, got {type(value).__name__}")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip():
            raise _err(source, key, f"item {i + 1} must be a non-empty string, got {v!r}")
    return [v.strip() for v in value]


def _validate(
    doc: dict[str, Any], source: str, *, known: set[str], known_classes: set[str]
) -> None:
    """Check one file's shape; ``known*`` hold the scenario and class names defined before it."""
    allowed = {"version", "rules", "words", "classes", "scenarios"}
    for k in doc:
        if k not in allowed:
            raise _err(source, k, f"unknown top-level key; expected one of {sorted(allowed)}")
    if doc.get("version", 1) != 1:
        raise _err(source, "version", f"unsupported version {doc['version']!r}; expected 1")
    for k, v in doc.get("rules", {}).items():
        if k not in ("negation_window", "gap"):
            raise _err(source, f"rules.{k}", "unknown rule; expected negation_window or gap")
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 20:
            raise _err(source, f"rules.{k}", f"must be an integer 0..20, got {v!r}")
    for k, v in doc.get("words", {}).items():
        if k not in WORD_KEYS:
            raise _err(
                source, f"words.{k}", f"unknown word list; expected one of {list(WORD_KEYS)}"
            )
        _str_list(v, source, f"words.{k}")
    classes = doc.get("classes", {})
    if not isinstance(classes, dict):
        raise _err(source, "classes", "must be a table of word lists")
    for k, v in classes.items():
        if not NAME.match(k):
            raise _err(source, f"classes.{k}", "class names are lower-case ASCII identifiers")
        _str_list(v, source, f"classes.{k}")
    scenarios = doc.get("scenarios", {})
    if not isinstance(scenarios, dict):
        raise _err(source, "scenarios", "must be a table of scenarios")
    names = known | set(scenarios)
    for name, spec in scenarios.items():
        key = f"scenarios.{name}"
        if not NAME.match(name):
            raise _err(source, key, "scenario names are lower-case ASCII identifiers (a-z, 0-9, _)")
        if not isinstance(spec, dict):
            raise _err(source, key, "must be a table")
        for k in spec:
            if k not in SCENARIO_KEYS:
                raise _err(
                    source, f"{key}.{k}", f"unknown key; expected one of {sorted(SCENARIO_KEYS)}"
                )
        if name not in known:
            if not spec.get("cues") and not spec.get("patterns"):
                raise _err(source, key, "a new scenario needs at least one cue or pattern")
        if "kind" in spec and spec["kind"] not in KINDS:
            raise _err(source, f"{key}.kind", f"must be one of {list(KINDS)}, got {spec['kind']!r}")
        for k in ("negatable",):
            if k in spec and not isinstance(spec[k], bool):
                raise _err(source, f"{key}.{k}", f"must be true or false, got {spec[k]!r}")
        if "label" in spec and not isinstance(spec["label"], str):
            raise _err(source, f"{key}.label", "must be a string")
        oq = spec.get("on_question", "keep")
        if oq not in ("keep", "drop") and oq not in names:
            raise _err(
                source, f"{key}.on_question", f"must be keep, drop or a scenario name, got {oq!r}"
            )
        _str_list(spec.get("cues", []), source, f"{key}.cues")
        _str_list(spec.get("blockers", []), source, f"{key}.blockers")
        _str_list(spec.get("exceptions", []), source, f"{key}.exceptions")
        _str_list(spec.get("when_negated", []), source, f"{key}.when_negated")
        for i, p in enumerate(_str_list(spec.get("patterns", []), source, f"{key}.patterns")):
            for part in p.split():
                for m in re.finditer(r"\{(\w+)\}", part):
                    if m.group(1) not in classes and m.group(1) not in known_classes:
                        raise _err(
                            source,
                            f"{key}.patterns",
                            f"pattern {i + 1} ({p!r}) uses unknown class {{{m.group(1)}}}",
                        )
                if len(part) > 2 and part[0] == part[-1] == "/":
                    try:
                        re.compile(part[1:-1])
                    except re.error as e:
                        raise _err(
                            source, f"{key}.patterns", f"pattern {i + 1} ({p!r}): bad regex: {e}"
                        ) from e
            if p.split()[0] == "*" or p.split()[-1] == "*":
                raise _err(
                    source, f"{key}.patterns", f"pattern {i + 1} ({p!r}) cannot start or end with *"
                )


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Lists are extended (no duplicates), tables merged recursively, scalars replaced."""
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = out[k] + [x for x in v if x not in out[k]]
        else:
            out[k] = v
    return out


def _build(doc: dict[str, Any], sources: tuple[str, ...]) -> Lexicon:
    scenarios = {}
    for name, spec in doc["scenarios"].items():
        scenarios[name] = Scenario(
            name=name,
            kind=spec.get("kind", "scenario"),
            label=spec.get("label", name),
            negatable=spec.get("negatable", True),
            on_question=spec.get("on_question", "keep"),
            cues=tuple(c.strip() for c in spec.get("cues", [])),
            patterns=tuple(p.strip() for p in spec.get("patterns", [])),
            blockers=frozenset(spec.get("blockers", [])),
            exceptions=tuple(spec.get("exceptions", [])),
            when_negated=tuple(c.strip() for c in spec.get("when_negated", [])),
        )
    words = {k: frozenset(doc.get("words", {}).get(k, [])) for k in WORD_KEYS}
    classes = {k: frozenset(v) for k, v in doc.get("classes", {}).items()}
    rules = doc.get("rules", {})
    return Lexicon(
        scenarios=scenarios,
        words=words,
        classes=classes,
        negation_window=rules.get("negation_window", 3),
        gap=rules.get("gap", 6),
        sources=sources,
    )


_BUILTIN: Lexicon | None = None


def load_lexicon(extra_path: str | Path | None = None) -> Lexicon:
    """The built-in lexicon, with the brand file at ``extra_path`` merged over it.

    >>> lex = load_lexicon()
    >>> sorted(lex.scenarios)[:3]
    ['anger', 'buying_for_others', 'complaint']
    """
    global _BUILTIN
    base = _parse(_builtin_text(), "builtin.toml")
    if extra_path is None:
        if _BUILTIN is None:
            _validate(base, "builtin.toml", known=set(), known_classes=set())
            _BUILTIN = _build(base, ("builtin.toml",))
        return _BUILTIN
    path = Path(extra_path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError as e:
        raise LexiconError(f"{path}: lexicon file not found") from e
    except UnicodeDecodeError as e:
        raise LexiconError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    extra = _parse(text, str(path))
    _validate(extra, str(path), known=set(base["scenarios"]), known_classes=set(base["classes"]))
    merged = _merge(base, extra)
    return _build(merged, ("builtin.toml", str(path)))

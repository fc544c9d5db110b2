"""The text form of an audience: tokenizer and recursive-descent parser.

Grammar (EBNF; keywords are case-insensitive, ``且 或 非`` are ``and or not``)::

    expr     = and_expr { "or" and_expr } ;
    and_expr = unary { "and" unary } ;
    unary    = "not" unary | primary ;
    primary  = "(" expr ")" | term ;
    term     = COMPARE_TERM op scalar
             | COMPARE_TERM "in" "[" scalar { "," scalar } "]"
             | EVENT_KIND "(" [ "last" ] DURATION { "," filter } ")" op NUMBER
             | "tag" "(" STRING [ "," STRING ] ")"
             | "in_field" "(" STRING [ "," STRING ] ")"
             | "in_audience" "(" STRING ")" ;
    filter   = NAME op scalar | NAME "in" "[" scalar { "," scalar } "]" ;
    op       = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" ;
    scalar   = STRING | NUMBER ;
    STRING   = '"' … '"' | "'" … "'" | "“" … "”"   (backslash escapes \\ \" \')
    NUMBER   = [ "-" ] digit { digit } [ "." digit { digit } ] ;
    DURATION = digit { digit } ( "d" | "w" ) ;

Precedence: ``not`` > ``and`` > ``or``. A chain ``a and b and c`` is one :class:`And`; a
parenthesised group stays its own node, so the printer can give the same tree back.

>>> parse('tier >= 3 and not rfm = "dormant"')
And(items=(Compare(term='tier', op='>=', value=3), Not(item=Compare(term='rfm', op='=', value='dormant'))))
"""  # noqa: E501

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from siyu.audience.ast import And, EventFilter, InAudience, InField, Node, Not, Or, Scalar, TagTerm
from siyu.audience.terms import (
    COMPARE_TERMS,
    EVENT_FILTERS,
    EVENT_KINDS,
    FUNCTIONS,
    TermError,
    check_compare,
    check_event,
    check_field,
    check_filter,
    unknown_name,
)
from siyu.errors import UsageError
from siyu.i18n import tr

__all__ = ["parse", "AudienceSyntaxError", "Token", "tokenize"]

EXPECTED: dict[str, tuple[str, str]] = {
    "term": ("条件（如 tier >= 3、tag(\"…\")、orders(last 90d) >= 2）",
             "a term (tier >= 3, tag(\"…\"), orders(last 90d) >= 2…)"),
    "operator": ("比较运算符 = != < <= > >=", "an operator = != < <= > >="),
    "value": ("值（带引号的字符串或数字）", "a value (a quoted string or a number)"),
    "string": ("带引号的非空字符串", "a non-empty quoted string"),
    "number": ("数字", "a number"),
    "window": ("时间窗（如 90d、12w）", "a window (like 90d or 12w)"),
    "connective": ("and、or 或表达式结束", "and, or, or the end of the expression"),
    "quote": ("结束引号", "a closing quote"),
    "connective)": ("and、or 或 )", "and, or, or )"),
    "filter": ("筛选条件（如 category = \"抗衰老\"、dwell >= 180）",
               "a filter (category = \"抗衰老\", dwell >= 180…)"),
    ", or ) filter": (", 加筛选条件，或 )", ", and a filter, or )"),
    "(": ("(", "("), ")": (")", ")"), "[": ("[", "["), "]": ("]", "]"), ",": (",", ","),
    ", or )": (", 或 )", ", or )"), ", or ]": (", 或 ]", ", or ]"),
}
"""What the parser can expect, by key (``AudienceSyntaxError.expected``), as (zh, en)."""

_KEYWORDS = {"and": "AND", "or": "OR", "not": "NOT", "in": "IN", "last": "LAST",
             "且": "AND", "或": "OR", "非": "NOT"}
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_PUNCT = {"(": "(", ")": ")", "[": "[", "]": "]", ",": ",", "（": "(", "）": ")", "，": ","}
_QUOTES = {'"': '"', "'": "'", "“": "”"}


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


class AudienceSyntaxError(UsageError):
    """An audience text that does not parse: ``position`` (0-based, in characters), the
    ``expected`` keys (:data:`EXPECTED`) and a message with a caret line (exit code 2)."""

    def __init__(self, text: str, position: int, message: str,
                 expected: tuple[str, ...] = ()):
        self.text = text
        self.position = position
        self.expected = expected
        self.reason = message
        line = text.replace("\n", " ")
        caret = " " * _width(line[:position]) + "^"
        super().__init__(f"{message}\n  {line}\n  {caret}")


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` (IDENT STRING NUMBER DURATION OP AND OR NOT IN LAST ( ) [ ] , EOF),
    its source text, 0-based position and value."""

    kind: str
    text: str
    pos: int
    value: object = None

    def describe(self) -> str:
        return tr("表达式结束", "the end of the expression") if self.kind == "EOF" \
            else repr(self.text)


def _is_ident(c: str, first: bool) -> bool:
    return c == "_" or (c.isascii() and (c.isalpha() or (not first and c.isdigit())))


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` ending with ``EOF``; :class:`AudienceSyntaxError` on a bad
    string, number or character."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _QUOTES:
            close, j, buf = _QUOTES[c], i + 1, []
            while j < n and text[j] != close:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise AudienceSyntaxError(text, i, tr(
                    "位置 {p} 的字符串没有结束引号 {q}",
                    "unterminated string at position {p}: expected a closing {q}",
                    p=i, q=close), ("quote",))
            out.append(Token("STRING", text[i:j + 1], i, "".join(buf)))
            i = j + 1
        elif c.isdigit() or (c == "-" and i + 1 < n and text[i + 1].isdigit()):
            j = i + 1
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            k = j
            while k < n and _is_ident(text[k], False):
                k += 1
            word, unit = text[i:j], text[j:k]
            if unit:
                if unit not in ("d", "w") or not word.isdigit():
                    raise AudienceSyntaxError(text, i, tr(
                        "位置 {p}：{w} 不是数字，也不是时间窗（如 90d、12w）",
                        "at position {p}: {w!r} is neither a number nor a window (like 90d "
                        "or 12w)", p=i, w=text[i:k]), ("number", "window"))
                out.append(Token("DURATION", text[i:k], i, (int(word), unit)))
            else:
                try:
                    v: int | float = int(word) if "." not in word else float(word)
                except ValueError:
                    raise AudienceSyntaxError(text, i, tr(
                        "位置 {p}：{w} 不是数字", "at position {p}: {w!r} is not a number",
                        p=i, w=word), ("number",)) from None
                out.append(Token("NUMBER", word, i, v))
            i = k
        elif _is_ident(c, True):
            j = i + 1
            while j < n and _is_ident(text[j], False):
                j += 1
            word = text[i:j]
            kind = _KEYWORDS.get(word.lower(), "IDENT")
            out.append(Token(kind, word, i, word))
            i = j
        elif c in _KEYWORDS:
            out.append(Token(_KEYWORDS[c], c, i, c))
            i += 1
        elif text[i:i + 2] in _OPS:
            out.append(Token("OP", text[i:i + 2], i, _OPS[text[i:i + 2]]))
            i += 2
        elif c in _OPS:
            out.append(Token("OP", c, i, _OPS[c]))
            i += 1
        elif c in _PUNCT:
            out.append(Token(_PUNCT[c], c, i, c))
            i += 1
        else:
            raise AudienceSyntaxError(text, i, tr(
                "位置 {p}：无法识别的字符 {c}", "at position {p}: unexpected character {c!r}",
                p=i, c=c))
    out.append(Token("EOF", "", n))
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, tok: Token, *expected: str) -> AudienceSyntaxError:
        zh = " / ".join(EXPECTED[e][0] for e in expected)
        en = " or ".join(EXPECTED[e][1] for e in expected)
        return AudienceSyntaxError(self.text, tok.pos, tr(
            "位置 {p}：应为 {a}，却是 {got}", "at position {p}: expected {b}, got {got}",
            p=tok.pos, a=zh, b=en, got=tok.describe()), expected)

    def at(self, tok: Token, message: str, *expected: str) -> AudienceSyntaxError:
        return AudienceSyntaxError(self.text, tok.pos, tr(
            "位置 {p}：{m}", "at position {p}: {m}", p=tok.pos, m=message), expected)

    def expect(self, kind: str, key: str | None = None) -> Token:
        if self.tok.kind != kind:
            raise self.fail(self.tok, key or kind)
        return self.take()

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.or_()
        if self.tok.kind != "EOF":
            raise self.fail(self.tok, "connective")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.tok.kind == "OR":
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while self.tok.kind == "AND":
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.tok.kind == "NOT":
            self.take()
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "(":
            self.take()
            node = self.or_()
            if self.tok.kind != ")":
                raise self.fail(self.tok, "connective)")
            self.take()
            return node
        if t.kind != "IDENT":
            raise self.fail(t, "term")
        name = t.text
        if name in FUNCTIONS:
            return self.call(self.take())
        if name in EVENT_KINDS:
            return self.event(self.take())
        if name in COMPARE_TERMS:
            return self.compare(self.take())
        raise self.at(t, unknown_name(name), "term")

    def scalar(self) -> tuple[Token, Scalar]:
        t = self.tok
        if t.kind not in ("STRING", "NUMBER"):
            raise self.fail(t, "value")
        self.take()
        return t, t.value  # type: ignore[return-value]

    def operator(self) -> tuple[Token, str]:
        """The comparison operator or ``in`` at the current token (not consumed)."""
        t = self.tok
        if t.kind == "IN":
            return t, "in"
        if t.kind == "OP":
            return t, str(t.value)
        raise self.fail(t, "operator")

    def value_list(self, check) -> tuple[Token, tuple[Scalar, ...]]:
        """``[ scalar { , scalar } ]``, each value passed to ``check(token, value)``; the
        first value's token and the values."""
        self.expect("[")
        values, first = [], self.tok
        while True:
            vt, v = self.scalar()
            check(vt, v)
            values.append(v)
            if self.tok.kind == "]":
                self.take()
                return first, tuple(values)
            if self.tok.kind != ",":
                raise self.fail(self.tok, ", or ]")
            self.take()

    def compare(self, name: Token) -> Node:
        spec = COMPARE_TERMS[name.text]
        op_tok, op = self.operator()
        if op not in spec.ops:
            raise self.at(op_tok, tr("{t} 不支持运算符 {op}；可用：{ok}",
                                     "{t} does not take operator {op!r}; use one of {ok}",
                                     t=name.text, op=op_tok.text, ok=" ".join(spec.ops)),
                          "operator")
        self.take()
        if op == "in":
            first, values = self.value_list(
                lambda vt, v: self._compare(vt, name.text, "=", v))
            return self._compare(first, name.text, "in", values)
        vt, v = self.scalar()
        return self._compare(vt, name.text, op, v)

    def _compare(self, at: Token, term: str, op: str, value) -> Node:
        try:
            return check_compare(term, op, value)
        except TermError as e:
            raise self.at(at, str(e), "value") from None

    def event(self, kind: Token) -> Node:
        self.expect("(")
        if self.tok.kind == "LAST":
            self.take()
        w = self.tok
        if w.kind != "DURATION":
            raise self.fail(w, "window")
        self.take()
        filters = []
        while self.tok.kind == ",":
            self.take()
            filters.append(self.event_filter(kind.text))
        if self.tok.kind != ")":
            raise self.fail(self.tok, ", or ) filter")
        self.take()
        op_tok = self.tok
        if op_tok.kind != "OP":
            raise self.fail(op_tok, "operator")
        self.take()
        vt = self.tok
        if vt.kind != "NUMBER":
            raise self.fail(vt, "number")
        self.take()
        n, unit = w.value  # type: ignore[misc]
        try:
            return check_event(kind.text, n, unit, str(op_tok.value), vt.value,
                               tuple(filters))
        except TermError as e:
            raise self.at(w, str(e), "window") from None

    def event_filter(self, kind: str) -> EventFilter:
        """``name op scalar`` or ``name in [..]`` inside an event aggregate."""
        name = self.tok
        if name.kind != "IDENT":
            raise self.fail(name, "filter")
        if name.text not in EVENT_FILTERS[kind]:
            try:
                check_filter(kind, name.text, "=", "")
            except TermError as e:
                raise self.at(name, str(e), "filter") from None
        self.take()
        op_tok, op = self.operator()
        if op not in EVENT_FILTERS[kind][name.text].ops:
            self._filter(op_tok, op_tok, kind, name.text, op, ())
        self.take()
        if op != "in":
            vt, v = self.scalar()
            return self._filter(op_tok, vt, kind, name.text, op, v)
        first, values = self.value_list(
            lambda vt, v: self._filter(op_tok, vt, kind, name.text, "=", v))
        return self._filter(op_tok, first, kind, name.text, "in", values)

    def _filter(self, op_tok: Token, vt: Token, kind: str, name: str, op: str, value):
        try:
            return check_filter(kind, name, op, value)
        except TermError as e:
            bad_op = op not in EVENT_FILTERS[kind][name].ops
            raise self.at(op_tok if bad_op else vt, str(e),
                          "operator" if bad_op else "value") from None

    def call(self, fn: Token) -> Node:
        self.expect("(")
        args: list[Token] = []
        most = 1 if fn.text == "in_audience" else 2
        while True:
            t = self.tok
            if t.kind != "STRING" or t.value == "":
                raise self.fail(t, "string")
            args.append(self.take())
            if self.tok.kind == ")":
                self.take()
                break
            if self.tok.kind != "," or len(args) == most:
                raise self.fail(self.tok, ")" if len(args) == most else ", or )")
            self.take()
        vals = [str(a.value) for a in args]
        if fn.text == "tag":
            return TagTerm(vals[0], vals[1] if len(vals) > 1 else None)
        if fn.text == "in_audience":
            return InAudience(vals[0])
        try:
            check_field(vals[0])
        except TermError as e:
            raise self.at(args[0], str(e), "string") from None
        return InField(vals[0], vals[1] if len(vals) > 1 else None)


def parse(text: str) -> Node:
    """The tree of audience ``text``; :class:`AudienceSyntaxError` when it does not parse."""
    return _Parser(text).parse()

"""Row validation and normalisation of §2, vectorised: one SQL ``SELECT`` per batch.

:func:`validation_sql` turns a canonical :class:`~siyu.schema.Table` and the columns of an input
batch into a DuckDB query whose result has the canonical columns (typed and normalised), the
``attrs`` JSON of extra columns, ``_line``, and for a bad row ``_column`` / ``_code`` /
``_reason`` naming the first broken rule. Everything runs inside DuckDB's vectorised engine, so
validation costs microseconds per row. The same rules are described for people in
``docs/data-model.md``.

The session time zone of the connection must be the brand's: naive timestamps are read in it
(pass it as ``zone`` so that plain local times take the fixed-offset path, :func:`timestamp_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import duckdb
import pyarrow as pa

from siyu.schema import KEY_TYPES, SURVEY_SCORE_RANGES, Column, Table

__all__ = ["validation_sql", "trim_sql", "key_sql", "key_parts_sql", "key_value_sql",
           "FixedOffset", "fixed_offset", "REJECT_CODES", "Check"]

REJECT_CODES = {
    "missing": ("缺少必填值", "required value missing"),
    "bad_key": ("不是 类型:值 格式的消费者标识", "not a consumer key of the form type:value"),
    "bad_key_type": ("未知的标识类型", "unknown key type"),
    "bad_phone": ("不是11位大陆手机号", "phone is not an 11-digit mainland mobile number"),
    "bad_timestamp": ("不是有效的时间", "not a valid timestamp"),
    "bad_date": ("不是有效的日期", "not a valid date"),
    "bad_number": ("不是有效的数字", "not a valid number"),
    "bad_integer": ("不是整数", "not a whole number"),
    "bad_bool": ("不是布尔值", "not a boolean (true/false, 1/0, 是/否)"),
    "bad_enum": ("不是允许的取值", "not one of the allowed values"),
    "out_of_range": ("超出允许范围", "out of range"),
}
"""Reject codes with their Chinese and English descriptions."""


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


_KEY_TYPES_SQL = ", ".join(lit(t) for t in KEY_TYPES)
_CANONICAL_KEY = (r"phone:1\d{10}|(" + "|".join(t for t in KEY_TYPES if t != "phone")
                  + r"):\S+")
"""A key already in normal form (the common case), accepted without further parsing."""


def trim_sql(text: str) -> str:
    """SQL for ``trim(text)`` (DuckDB's: strips Unicode space separators, Zs, from both ends)
    that skips the trim where it cannot change anything: an all-ASCII value (byte length =
    character length) that neither starts nor ends with a space. ``trim`` copies every value
    and costs ~4× these checks, so on clean data this halves the cost of the text layer."""
    return (f"CASE WHEN strlen({text}) = length({text}) AND {text} NOT LIKE ' %' "
            f"AND {text} NOT LIKE '% ' THEN {text} ELSE trim({text}) END")


def key_parts_sql(text: str) -> tuple[str, str]:
    """SQL for the lower-cased type and the normalised value of a consumer key held in the
    trimmed, non-empty text expression ``text``.

    Rule (§2): ``type:value``; the type is lower-cased; the value is trimmed; a phone value
    loses spaces, dashes, brackets and a leading ``+86``/``0086``/``86``.
    """
    typ = f"lower(trim(split_part({text}, ':', 1)))"
    raw_val = f"trim(substr({text}, strpos({text}, ':') + 1))"
    digits = rf"regexp_replace({raw_val}, '[\s\-()（）]', '', 'g')"
    phone = rf"regexp_replace({digits}, '^(\+86|0086|86)(1\d{{10}})$', '\2')"
    value = (f"CASE WHEN strpos({text}, ':') = 0 THEN NULL "
             f"WHEN {typ} = 'phone' THEN {phone} ELSE {raw_val} END")
    return typ, value


def key_value_sql(typ: str, value: str) -> tuple[str, str]:
    """SQL for the normalised key and its error code, from the parts of
    :func:`key_parts_sql` (given as column names)."""
    key = f"({typ} || ':' || {value})"
    err = (
        f"CASE WHEN {value} IS NULL OR {value} = '' THEN 'bad_key' "
        f"WHEN {typ} NOT IN ({_KEY_TYPES_SQL}) THEN 'bad_key_type' "
        rf"WHEN {typ} = 'phone' AND NOT regexp_full_match({value}, '1\d{{10}}') "
        "THEN 'bad_phone' END"
    )
    return key, err


def key_sql(text: str) -> tuple[str, str]:
    """SQL for a normalised consumer key and its error code (NULL when valid) from the
    trimmed, non-empty text expression ``text`` (one expression; used for look-ups)."""
    typ, value = key_parts_sql(text)
    return key_value_sql(f"({typ})", f"({value})")


@dataclass(frozen=True)
class FixedOffset:
    """A span of local times in which the brand's zone keeps one UTC offset (epoch
    microseconds of the naive local times, ``lo`` included, ``hi`` excluded)."""

    offset_us: int
    lo: int
    hi: int


@cache
def fixed_offset(zone: str, today: datetime | None = None) -> FixedOffset | None:
    """The span around ``today`` in which ``zone`` keeps one UTC offset, by the engine's own
    zone rules (probed day by day from 1900 to 2200), less a day at each end; None when it
    is shorter than five years (zones with daylight saving time gain nothing)."""
    con = duckdb.connect()
    try:
        con.execute(f"SET TimeZone = {lit(zone)}")
        rows = con.execute(
            "SELECT epoch_us(d), epoch_us(d) - epoch_us(CAST(d AS TIMESTAMPTZ)) "
            "FROM range(TIMESTAMP '1900-01-01', TIMESTAMP '2200-01-01', INTERVAL 1 DAY) t(d) "
            "ORDER BY 1").fetchall()
    finally:
        con.close()
    day = 86_400_000_000
    now = int(((today or datetime.now()) - datetime(1970, 1, 1)) / timedelta(microseconds=1))
    i = max(0, min(len(rows) - 1, (now - rows[0][0]) // day))
    off = rows[i][1]
    a = b = i
    while a > 0 and rows[a - 1][1] == off:
        a -= 1
    while b < len(rows) - 1 and rows[b + 1][1] == off:
        b += 1
    lo, hi = rows[a][0] + day, rows[b][0]
    if off % 60_000_000 or hi - lo < 5 * 365 * day:
        return None
    return FixedOffset(off, lo, hi)


def timestamp_sql(text: str, name: str, fixed: FixedOffset | None) -> tuple[dict[str, str], str]:
    """SQL for the instant of the trimmed text ``text`` (a column), as
    ``TRY_CAST(text AS TIMESTAMPTZ)`` in the session zone gives it, and the helper column it
    needs (``{name: SQL}``). With ``fixed``, a plain ``YYYY-MM-DD HH:MM:SS`` local time inside
    the span is converted by subtracting the offset (the engine's time-zone library costs
    about twice as much); everything else (zones, offsets, other forms and years) is cast.

    One difference: DuckDB 1.5 reads a naive time that follows, in the same vector, a value
    with a zone *name* (``… Asia/Tokyo``) in that zone; the offset path does not."""
    cast = f"TRY_CAST({text} AS TIMESTAMPTZ)"
    if fixed is None:
        return {}, cast
    n = q(name)
    plain = (f"strlen({text}) = 19 AND {text} LIKE '____-__-_____:__:__' "
             f"AND {text} NOT LIKE '%Z' AND {text} NOT LIKE '%z'")
    parts = {name: f"CASE WHEN {plain} THEN epoch_us(TRY_CAST({text} AS TIMESTAMP)) END"}
    value = (f"CASE WHEN {n} >= {fixed.lo} AND {n} < {fixed.hi} "
             f"THEN make_timestamptz({n} - {fixed.offset_us}) ELSE {cast} END")
    return parts, value


@dataclass(frozen=True)
class Check:
    """An extra row rule of one table: ``error_sql`` is true for a bad row."""

    column: str
    code: str
    error_sql: str
    detail: str


def _score_check() -> Check:
    kind, score = q("v_kind"), "v_score"
    cases = " ".join(
        f"WHEN {kind} = {lit(k)} THEN NOT ({score} BETWEEN {lo} AND {hi})"
        for k, (lo, hi) in SURVEY_SCORE_RANGES.items()
    )
    ranges = ", ".join(f"{k} {lo}–{hi}" for k, (lo, hi) in SURVEY_SCORE_RANGES.items())
    return Check("score", "out_of_range", f"CASE {cases} ELSE false END", ranges)


TABLE_CHECKS: dict[str, list[Check]] = {"surveys": [_score_check()]}
"""Row rules beyond single columns, by table."""

_TRUE = ("true", "t", "1", "yes", "y", "是", "真")
_FALSE = ("false", "f", "0", "no", "n", "否", "假")


@dataclass
class _ColumnSql:
    """The layered SQL of one column: ``text`` (layer 1, from the raw input), optional
    ``parts`` (layer 2, from the text), ``value`` (layer 3) and ``error`` (layer 4, may use
    the value and text by their names ``v_<col>`` / ``t_<col>``)."""

    text: str
    parts: dict[str, str]
    value: str
    error: str


def _column_sql(c: Column, src: str, input_type: pa.DataType | None,
                fixed: FixedOffset | None = None) -> _ColumnSql:
    """SQL computing, checking and normalising column ``c`` from raw expression ``src`` of
    Arrow type ``input_type`` (None when the input lacks the column); ``fixed`` is the span
    of :func:`fixed_offset` for the session zone, if any."""
    T, V = q("t_" + c.name), q("v_" + c.name)
    if input_type is None:
        text = lit(c.default) if c.default is not None else "NULL::VARCHAR"
    elif pa.types.is_timestamp(input_type) or pa.types.is_date(input_type):
        # a typed column (Parquet): naive instants are read in the session (brand) zone
        target = {"timestamp": "TIMESTAMPTZ", "date": "DATE"}.get(c.type, "VARCHAR")
        miss = f"CASE WHEN {T} IS NULL THEN 'missing' END" if c.required else "NULL"
        return _ColumnSql(f"CAST({src} AS {target})", {}, T, miss)
    else:
        is_text = pa.types.is_string(input_type) or pa.types.is_large_string(input_type)
        text = f"NULLIF({trim_sql(src) if is_text else f'trim(CAST({src} AS VARCHAR))'}, '')"
        if c.default is not None:
            text = f"coalesce({text}, {lit(c.default)})"
    missing = f"WHEN {T} IS NULL THEN 'missing' " if c.required else ""
    parts: dict[str, str] = {}
    t = c.type
    bad: tuple[str, str] | None = None
    if t == "string":
        value = T
    elif t == "key":
        # fast path: a key already in normal form needs no parsing
        fast = q("kf_" + c.name)
        typ, val = key_parts_sql(T)
        parts = {"kf_" + c.name: f"regexp_full_match({T}, {lit(_CANONICAL_KEY)})",
                 "kt_" + c.name: f"CASE WHEN NOT {fast} THEN {typ} END",
                 "kv_" + c.name: f"CASE WHEN NOT {fast} THEN {val} END"}
        slow, kerr = key_value_sql(q("kt_" + c.name), q("kv_" + c.name))
        value = f"CASE WHEN {fast} THEN {T} ELSE {slow} END"
        return _ColumnSql(text, parts, value,
                          f"CASE {missing}WHEN {T} IS NOT NULL AND NOT {fast} THEN {kerr} END")
    elif t == "timestamp":
        parts, value = timestamp_sql(T, "n_" + c.name, fixed)
        bad = ("bad_timestamp", f"{V} IS NULL")
    elif t == "date":
        value = f"coalesce(TRY_CAST({T} AS DATE), CAST(TRY_CAST({T} AS TIMESTAMP) AS DATE))"
        bad = ("bad_date", f"{V} IS NULL")
    elif t == "money":
        plain = f"TRY_CAST({T} AS DECIMAL(18,2))"
        cleaned = rf"regexp_replace({T}, '[¥￥,，\s]|元$', '', 'g')"
        value = f"coalesce({plain}, TRY_CAST({cleaned} AS DECIMAL(18,2)))"
        bad = ("bad_number", f"{V} IS NULL")
    elif t == "number":
        value = f"TRY_CAST({T} AS DOUBLE)"
        bad = ("bad_number", f"{V} IS NULL OR isnan({V}) OR isinf({V})")
    elif t == "int":
        parts = {"d_" + c.name: f"TRY_CAST({T} AS DOUBLE)"}
        d = q("d_" + c.name)
        value = f"CASE WHEN {d} = trunc({d}) AND abs({d}) < 9e15 THEN CAST({d} AS BIGINT) END"
        bad = ("bad_integer", f"{V} IS NULL")
    elif t == "bool":
        low = f"lower({T})"
        value = (f"CASE WHEN {low} IN ({', '.join(map(lit, _TRUE))}) THEN true "
                 f"WHEN {low} IN ({', '.join(map(lit, _FALSE))}) THEN false END")
        bad = ("bad_bool", f"{V} IS NULL")
    elif t == "enum":
        low = f"lower({T})"
        if c.aliases:
            alias = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in c.aliases.items())
            low = f"CASE {low} {alias} ELSE {low} END"
        value = low
        bad = ("bad_enum", f"{V} NOT IN ({', '.join(map(lit, c.values))})")
    else:  # pragma: no cover - every ColumnType is handled above
        raise ValueError(t)

    conds = missing
    if bad:
        conds += f"WHEN {T} IS NOT NULL AND ({bad[1]}) THEN '{bad[0]}' "
    if (c.min is not None or c.max is not None) and t in ("money", "number", "int"):
        rng = []
        if c.min is not None:
            rng.append(f"{V} < {c.min}")
        if c.max is not None:
            rng.append(f"{V} > {c.max}")
        conds += f"WHEN {V} IS NOT NULL AND ({' OR '.join(rng)}) THEN 'out_of_range' "
    return _ColumnSql(text, parts, value, f"CASE {conds}END" if conds else "NULL")


def _range_detail(c: Column) -> str:
    if c.min is None and c.max is None:
        return ""
    lo = "" if c.min is None else f"{c.min:g}"
    hi = "" if c.max is None else f"{c.max:g}"
    return f"{lo}–{hi}" if lo and hi else (f"≥ {lo}" if lo else f"≤ {hi}")


def validation_sql(table: Table, input_schema: pa.Schema, source: str = "_in",
                   zone: str | None = None) -> str:
    """The validating query over relation ``source`` (an Arrow batch registered in DuckDB).

    Four layers, so each expression is computed once: text (trimmed input), parts (key type
    and value, integer as double), value (typed and normalised), errors. The result has the
    canonical columns, ``attrs``, ``_line`` and, for a bad row, ``_column``, ``_code``,
    ``_value`` (the offending text), ``_detail`` and ``_raw`` (the whole input row as JSON).
    """
    names = [n for n in input_schema.names if n != "_line"]
    idx = {n: i for i, n in enumerate(names)}
    canon = {c.name for c in table.columns}
    extras = [n for n in names if n not in canon and not n.startswith("_")]
    fixed = fixed_offset(zone) if zone else None
    cs = {c.name: _column_sql(c, q(c.name),
                              input_schema.field(c.name).type if c.name in idx else None, fixed)
          for c in table.columns}

    if extras:
        obj = ", ".join(f"{lit(n)}, NULLIF(CAST({q(n)} AS VARCHAR), '')" for n in extras)
        nonnull = " OR ".join(f"NULLIF(CAST({q(n)} AS VARCHAR), '') IS NOT NULL" for n in extras)
        attrs = f"CASE WHEN {nonnull} THEN CAST(json_object({obj}) AS VARCHAR) END"
    else:
        attrs = "NULL::VARCHAR"
    raw_cols = "".join(f", {q(n)} AS r{i}" for n, i in idx.items())
    raw_obj = ", ".join(f"{lit(n)}, CAST(r{i} AS VARCHAR)" for n, i in idx.items())

    l1 = ", ".join(f"{x.text} AS {q('t_' + n)}" for n, x in cs.items())
    l2 = "".join(f", {e} AS {q(k)}" for x in cs.values() for k, e in x.parts.items())
    l3 = ", ".join(f"{x.value} AS {q('v_' + n)}" for n, x in cs.items())
    l4 = ", ".join(f"{x.error} AS {q('e_' + n)}" for n, x in cs.items())

    checks = TABLE_CHECKS.get(table.name, [])
    pick_col, pick_code = [], []
    for n in cs:
        e = q("e_" + n)
        pick_col.append(f"WHEN {e} IS NOT NULL THEN {lit(n)}")
        pick_code.append(f"WHEN {e} IS NOT NULL THEN {e}")
    for ch in checks:
        cond = ch.error_sql.replace("v_score", q("v_" + ch.column))
        pick_col.append(f"WHEN {cond} THEN {lit(ch.column)}")
        pick_code.append(f"WHEN {cond} THEN {lit(ch.code)}")
    detail_cases = [
        f"WHEN {lit(c.name)} THEN {lit(_range_detail(c))}" for c in table.columns
        if _range_detail(c)
    ] + [f"WHEN {lit(ch.column)} THEN {lit(ch.detail)}" for ch in checks]
    raw_value = " ".join(
        f"WHEN {lit(c.name)} THEN CAST(r{idx[c.name]} AS VARCHAR)" for c in table.columns
        if c.name in idx
    )
    out_cols = ", ".join(f"{q('v_' + n)} AS {q(n)}" for n in cs)
    return f"""
WITH l1 AS (SELECT {l1}, {attrs} AS attrs, _line{raw_cols} FROM {source}),
l2 AS (SELECT *{l2} FROM l1),
l3 AS (SELECT *, {l3} FROM l2),
l4 AS (SELECT *, {l4} FROM l3),
r AS (SELECT *, CASE {' '.join(pick_col)} END AS _column,
             CASE {' '.join(pick_code)} END AS _code FROM l4)
SELECT {out_cols}, attrs, _line, _column, _code,
       CASE _column {raw_value or "WHEN NULL THEN NULL"} END AS _value,
       CASE _column {' '.join(detail_cases) or "WHEN NULL THEN NULL"} END AS _detail,
       CASE WHEN _column IS NULL THEN NULL ELSE CAST(json_object({raw_obj}) AS VARCHAR) END AS _raw
FROM r
"""

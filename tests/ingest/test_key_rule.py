"""The key rule lives twice: as SQL (the importer, vectorised) and in Python (look-ups typed
by people). They must agree on every input: same normal form, same accept/reject."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.identity import normalize_key
from siyu.ingest.validate import key_sql

_con = duckdb.connect()
_key, _err = key_sql("$1")
_SQL = f"SELECT {_key}, {_err}"


def sql_rule(text: str) -> tuple[str | None, str | None]:
    t = text.strip()
    if not t:
        return None, "missing"
    k, e = _con.execute(_SQL, [t]).fetchall()[0]
    return (None, e) if e else (k, None)


def py_rule(text: str) -> str | None:
    try:
        return normalize_key(text)
    except ValueError:
        return None


parts = st.sampled_from(["phone", "PHONE", "Phone ", "member", "wecom", "unionid", "email",
                         "anon", "foo", "", " "])
values = st.one_of(
    st.sampled_from(["13800138000", "+86 138-0013-8000", "0086 13800138000", "8613800138000",
                     "(86)13900139000", "12345", "+1 415 555 0100", "1380013800a", "M 7 ",
                     " wm-01 ", "", "a:b", "x@y.com"]),
    st.text(alphabet="0123456789+-() :abcM", max_size=16),
)


@settings(max_examples=400, deadline=None)
@given(typ=parts, sep=st.sampled_from([":", ":", ""]), value=values)
def test_python_and_sql_rules_agree(typ, sep, value):
    text = f"{typ}{sep}{value}"
    key, err = sql_rule(text)
    assert py_rule(text) == key, (text, key, err)

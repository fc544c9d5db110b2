"""A hand-built brand for saved audiences, exports and the bitmap index: the audience brand of
test_compile.py (tiers, attributes, group chats, events known per person) plus phone and
e-mail keys, and hand-written ``tag_values`` and ``clv_predictions`` (their writers are other
commands)."""

from __future__ import annotations

from datetime import datetime

from siyu.workspace import Workspace
from tests.audience.test_compile import audience_brand

PHONES = {"u1": "13900001111", "u2": "13812345678"}
EMAIL = ("u3", "alice@example.com")

TAG_COLUMNS = ("consumer_id VARCHAR, tag_group VARCHAR, tag VARCHAR, value VARCHAR, "
               "kind VARCHAR, source VARCHAR, rule_version VARCHAR, computed_at TIMESTAMP")

PREDICTIONS = {  # person: (churn_decile, total) → CLV deciles by total rank
    "u3": (1, 10.0), "u4": (5, 20.0), "u5": (5, 20.0), "u6": (9, 30.0), "u7": (10, 40.0),
    "u9": (3, 5.0), "u12": (7, 55.0)}


def brand():
    b = audience_brand()
    for person, phone in PHONES.items():
        key = "wecom:u1" if person == "u1" else f"member:{person}"
        b.link(key, f"phone:{phone}")
    b.link(f"member:{EMAIL[0]}", f"email:{EMAIL[1]}")
    return b


def people(ws) -> dict[str, str]:
    """person (u1…u16) → consumer_id."""
    rows = ws.warehouse.raw.execute("SELECT key, consumer_id FROM identity_map").fetchall()
    return {k.split(":", 1)[1]: c for k, c in rows if k.split(":", 1)[1].startswith("u")}


def set_tags(ws, rows: list[tuple[str, str, str | None]], at: str = "2025-03-31 12:00") -> None:
    """Replace ``tag_values`` with ``(person, tag, value)`` rows."""
    cid = people(ws)
    raw = ws.warehouse.raw
    raw.execute(f"CREATE OR REPLACE TABLE tag_values ({TAG_COLUMNS})")
    if rows:
        raw.executemany("INSERT INTO tag_values VALUES (?, 'g', ?, ?, 'manual', 'test', '1', ?)",
                        [(cid[p], t, v, datetime.fromisoformat(at)) for p, t, v in rows])


def set_predictions(ws, rows: dict[str, tuple[int, float]] = PREDICTIONS) -> None:
    cid = people(ws)
    raw = ws.warehouse.raw
    raw.execute("CREATE OR REPLACE TABLE clv_predictions (consumer_id VARCHAR, "
                "churn_decile BIGINT, total DOUBLE)")
    raw.executemany("INSERT INTO clv_predictions VALUES (?, ?, ?)",
                    [(cid[p], d, t) for p, (d, t) in rows.items()])


TAGS = [("u1", "抗衰老需求", "是"), ("u2", "抗衰老需求", "否"), ("u3", "肤质", "干性"),
        ("u3", "抗衰老需求", "是"), ("u5", "肤质", "油性"), ("u9", "vip", None),
        ("u12", "vip", None), ("u14", "肤质", "干性")]


def make_ws(tmp, name: str = "ws") -> Workspace:
    w = Workspace.init(tmp / name, brand_name="测试品牌")
    brand().load(w, tmp)
    set_tags(w, TAGS)
    set_predictions(w)
    return w

"""The canonical tables of DOMAIN.md §2, declared once.

The importer validates against these declarations, the demo generator writes them, the warehouse
creates its tables from them and ``docs/data-model.md`` is generated from them
(``siyu schema --markdown``). Nothing else in siyu spells out a column list.

>>> TABLES["orders"].column("amount").type
'money'
>>> [t.name for t in import_order()][:3]
['stores', 'guides', 'touchpoints']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "KEY_TYPES",
    "FIELDS",
    "INTERACTION_TYPES",
    "ENGAGED_TYPES",
    "VISIT_TYPES",
    "CONSENT_PURPOSES",
    "CONSENT_CHANNELS",
    "Column",
    "Table",
    "TABLES",
    "SYSTEM_COLUMNS",
    "import_order",
    "get_table",
]

# --- vocabularies (§2) ---------------------------------------------------------------------

KEY_TYPES: tuple[str, ...] = (
    "phone", "unionid", "openid", "wecom", "member", "tmall", "douyin", "pos", "email", "anon",
)
"""Consumer key types, written ``type:value``."""

FIELDS: tuple[str, ...] = (
    "shop", "membership", "group_chat", "live_room", "guide", "customer_service",
    "mini_program", "official_account", "subscription", "video_channel", "store", "app",
)
"""Fields (场域) where a consumer can hold a relationship with the brand."""

CONNECTION_STRENGTH: dict[str, str] = {
    "official_account": "weak", "video_channel": "weak", "shop": "weak",
    "subscription": "weak", "mini_program": "weak", "app": "weak",
    "group_chat": "medium", "live_room": "medium",
    "guide": "strong", "customer_service": "strong",
    "membership": "member", "store": "offline",
}
"""Handbook connection strength per field (seed 002)."""

INTERACTION_TYPES: tuple[str, ...] = (
    "visit", "view", "click", "like", "comment", "message", "message_sent", "message_read",
    "checkin", "live_watch", "add_cart", "search",
)
ENGAGED_TYPES: tuple[str, ...] = ("like", "comment", "message", "checkin")
VISIT_TYPES: tuple[str, ...] = tuple(t for t in INTERACTION_TYPES if t != "message_sent")

CONSENT_PURPOSES: tuple[str, ...] = ("marketing", "service", "profiling", "analytics")
CONSENT_CHANNELS: tuple[str, ...] = ("wecom", "group", "sms", "official_account", "email", "all")

ColumnType = Literal[
    "string", "key", "timestamp", "date", "money", "int", "number", "bool", "enum",
]
"""Logical column types. ``key`` is a consumer key ``type:value``; ``money`` is yuan with two
decimals; ``number`` is a float; ``enum`` takes one of ``Column.values``."""

ARROW_TYPES: dict[str, str] = {
    "string": "string", "key": "string", "enum": "string", "timestamp": "timestamp[us, tz=UTC]",
    "date": "date32", "money": "decimal128(18, 2)", "int": "int64", "number": "double",
    "bool": "bool",
}
SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR", "key": "VARCHAR", "enum": "VARCHAR", "timestamp": "TIMESTAMPTZ",
    "date": "DATE", "money": "DECIMAL(18,2)", "int": "BIGINT", "number": "DOUBLE",
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    type: ColumnType
    required: bool = False
    doc: str = ""
    values: tuple[str, ...] = ()
    """Allowed values of an ``enum`` column."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Accepted spellings mapped to a canonical enum value (e.g. ``男`` → ``male``)."""
    default: str | None = None
    """Value used when the column is absent or empty (applied before validation)."""
    min: float | None = None
    max: float | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    """One canonical table: its columns, what makes a row unique and how it is loaded."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    id_columns: tuple[str, ...]
    """Columns whose values identify a row: a row whose id is already stored is a duplicate.
    Dimension tables use every column (the whole row), so a changed row is a new version."""
    kind: Literal["link", "dimension", "event"]
    time_column: str | None = None
    key_columns: tuple[str, ...] = ("consumer_key",)
    """Columns holding consumer keys (registered for OneID)."""
    depends_on: tuple[str, ...] = ()
    """Tables to import first (`siyu import --all` order)."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


SYSTEM_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("attrs", "VARCHAR", "extra source columns as a JSON object (null when none)"),
    ("_load_id", "VARCHAR", "the import run that stored the row (`siyu loads`)"),
    ("_line", "BIGINT", "where the row stood in its file: the line for CSV and JSONL (a CSV "
                        "header is line 1), the row number for Parquet, the sheet row for Excel"),
)
"""Columns every stored table carries besides its canonical ones."""

_FIELD = dict(values=FIELDS)
_GENDER_ALIASES = {
    "男": "male", "m": "male", "man": "male", "1": "male",
    "女": "female", "f": "female", "woman": "female", "2": "female",
    "未知": "unknown", "u": "unknown", "0": "unknown",
}


def _c(name: str, type_: ColumnType, required: bool = False, doc: str = "", **kw) -> Column:
    return Column(name, type_, required, doc, **kw)


_TABLE_LIST: tuple[Table, ...] = (
    Table(
        "stores", "Offline stores (门店).",
        (
            _c("store_id", "string", True, "store id"),
            _c("name", "string", doc="store name"),
            _c("city", "string"),
            _c("region", "string", doc="sales region"),
            _c("opened_at", "timestamp"),
        ),
        id_columns=(), kind="dimension", key_columns=(),
    ),
    Table(
        "guides", "Shopping guides (导购) and their store.",
        (
            _c("guide_id", "string", True),
            _c("name", "string"),
            _c("store_id", "string"),
            _c("status", "enum", values=("active", "left"), default="active",
               doc="`active` or `left` (离职)"),
            _c("joined_at", "timestamp"),
            _c("left_at", "timestamp"),
        ),
        id_columns=(), kind="dimension", key_columns=(), depends_on=("stores",),
    ),
    Table(
        "touchpoints", "Concrete touchpoints: a group chat, a live room, an account, a guide's "
        "WeCom, the mini-program…",
        (
            _c("field_ref", "string", True, "touchpoint id, referenced by events' `field_ref`"),
            _c("field", "enum", True, **_FIELD),
            _c("name", "string"),
            _c("store_id", "string"),
            _c("guide_id", "string"),
            _c("group_type", "enum", values=("normal", "member"),
               doc="for group chats: `normal` or `member` (会员群)"),
        ),
        id_columns=(), kind="dimension", key_columns=(), depends_on=("stores", "guides"),
    ),
    Table(
        "consumers", "Consumer attributes; the latest row for a key wins.",
        (
            _c("consumer_key", "key", True),
            _c("name", "string"),
            _c("gender", "enum", values=("male", "female", "unknown"), aliases=_GENDER_ALIASES),
            _c("birthday", "date"),
            _c("city", "string"),
            _c("province", "string"),
            _c("registered_at", "timestamp"),
        ),
        id_columns=(), kind="dimension", time_column="registered_at",
    ),
    Table(
        "identity_links", "Two keys of the same person (OneID input, DOMAIN §3).",
        (
            _c("key_a", "key", True),
            _c("key_b", "key", True),
            _c("source", "string", doc="where the link was observed (e.g. `wecom_bind`)"),
            _c("observed_at", "timestamp"),
        ),
        id_columns=("key_a", "key_b", "source", "observed_at"), kind="link",
        time_column="observed_at", key_columns=("key_a", "key_b"),
    ),
    Table(
        "relationships", "A consumer starts or ends a relationship in a field (§4).",
        (
            _c("event_id", "string", True),
            _c("consumer_key", "key", True),
            _c("field", "enum", True, **_FIELD),
            _c("action", "enum", True, values=("start", "end")),
            _c("occurred_at", "timestamp", True),
            _c("field_ref", "string", doc="touchpoint (group, guide…)"),
            _c("source", "string", doc="how it started/ended (qr_code, referral, store…)"),
        ),
        id_columns=("event_id",), kind="event", time_column="occurred_at",
        depends_on=("touchpoints",),
    ),
    Table(
        "interactions", "Visits, views, messages and other interactions (§2 types).",
        (
            _c("event_id", "string", True),
            _c("consumer_key", "key", True),
            _c("field", "enum", True, **_FIELD),
            _c("type", "enum", True, values=INTERACTION_TYPES),
            _c("occurred_at", "timestamp", True),
            _c("field_ref", "string"),
            _c("content_id", "string"),
            _c("dwell_seconds", "int", min=0),
            _c("text", "string", doc="message text (type `message`)"),
        ),
        id_columns=("event_id",), kind="event", time_column="occurred_at",
        depends_on=("touchpoints",),
    ),
    Table(
        "orders", "Orders; `amount` is net paid in yuan (0 is valid).",
        (
            _c("order_id", "string", True),
            _c("consumer_key", "key", True),
            _c("paid_at", "timestamp", True),
            _c("amount", "money", True, min=0),
            _c("status", "enum", values=("paid", "refunded"), default="paid"),
            _c("field", "enum", **_FIELD),
            _c("field_ref", "string"),
            _c("store_id", "string"),
            _c("guide_id", "string"),
            _c("share_id", "string", doc="the share that brought the order (§5 propagation)"),
            _c("coupon_id", "string"),
            _c("gross_profit", "money"),
        ),
        id_columns=("order_id",), kind="event", time_column="paid_at",
        depends_on=("stores", "guides", "touchpoints", "shares"),
    ),
    Table(
        "order_items", "Order lines; one row per order and sku.",
        (
            _c("order_id", "string", True),
            _c("sku", "string", True),
            _c("quantity", "int", True, min=1),
            _c("unit_price", "money", True, min=0),
            _c("category", "string"),
        ),
        id_columns=("order_id", "sku"), kind="event", key_columns=(), depends_on=("orders",),
    ),
    Table(
        "shares", "A consumer shares brand content.",
        (
            _c("share_id", "string", True),
            _c("consumer_key", "key", True),
            _c("occurred_at", "timestamp", True),
            _c("content_type", "string"),
            _c("content_id", "string"),
            _c("field", "enum", **_FIELD),
        ),
        id_columns=("share_id",), kind="event", time_column="occurred_at",
    ),
    Table(
        "reviews", "Product reviews with a 1–5 rating.",
        (
            _c("review_id", "string", True),
            _c("consumer_key", "key", True),
            _c("rating", "int", True, min=1, max=5),
            _c("occurred_at", "timestamp", True),
            _c("order_id", "string"),
            _c("sku", "string"),
            _c("text", "string"),
        ),
        id_columns=("review_id",), kind="event", time_column="occurred_at",
        depends_on=("orders",),
    ),
    Table(
        "coupons", "Coupon life events: issued, claimed, redeemed, expired.",
        (
            _c("event_id", "string", True),
            _c("coupon_id", "string", True),
            _c("consumer_key", "key", True),
            _c("action", "enum", True, values=("issued", "claimed", "redeemed", "expired")),
            _c("occurred_at", "timestamp", True),
            _c("template_id", "string"),
            _c("face_value", "money", min=0),
            _c("threshold", "money", min=0),
            _c("order_id", "string"),
        ),
        id_columns=("event_id",), kind="event", time_column="occurred_at",
    ),
    Table(
        "consents", "Consent grants and revocations by purpose and channel (§12).",
        (
            _c("event_id", "string", True),
            _c("consumer_key", "key", True),
            _c("purpose", "enum", True, values=CONSENT_PURPOSES),
            _c("granted", "bool", True),
            _c("occurred_at", "timestamp", True),
            _c("channel", "enum", values=CONSENT_CHANNELS, default="all"),
            _c("source", "string"),
        ),
        id_columns=("event_id",), kind="event", time_column="occurred_at",
    ),
    Table(
        "surveys", "Survey responses: NPS (0–10), CES (1–7), CSAT (1–5).",
        (
            _c("response_id", "string", True),
            _c("consumer_key", "key", True),
            _c("kind", "enum", True, values=("nps", "ces", "csat")),
            _c("score", "number", True, min=0, max=10),
            _c("occurred_at", "timestamp", True),
            _c("step", "string", doc="journey step or touchpoint surveyed"),
            _c("text", "string"),
        ),
        id_columns=("response_id",), kind="event", time_column="occurred_at",
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in _TABLE_LIST}
"""Every canonical table by name, in declaration order."""

SURVEY_SCORE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "ces": (1, 7), "csat": (1, 5)}


def get_table(name: str) -> Table:
    """The table called ``name``; a ``KeyError`` listing the known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}") from None


def import_order(names: list[str] | None = None) -> list[Table]:
    """Tables in dependency order (dependencies first), restricted to ``names`` if given."""
    wanted = set(names) if names is not None else set(TABLES)
    done: list[Table] = []
    seen: set[str] = set()

    def visit(t: Table) -> None:
        if t.name in seen:
            return
        seen.add(t.name)
        for d in t.depends_on:
            visit(TABLES[d])
        done.append(t)

    for t in _TABLE_LIST:
        visit(t)
    return [t for t in done if t.name in wanted]

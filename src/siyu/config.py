"""Typed settings: defaults here, overridden by the workspace's ``siyu.toml``, overridden by
``SIYU_*`` environment variables (e.g. ``SIYU_TIMEZONE=Asia/Hong_Kong``).

Every configurable default of DOMAIN.md lives here with a docstring; ``siyu settings`` prints
the effective values and where each came from.
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = ["Settings", "load_settings", "write_settings", "SETTINGS_FILE"]

SETTINGS_FILE = "siyu.toml"
_FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("siyu_settings_file", default=None)


class _TomlFileSource(PydanticBaseSettingsSource):
    """Values read from the workspace's settings file (lower priority than the environment)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return (_FILE_VALUES.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_VALUES.get() or {})


class Settings(BaseSettings):
    """siyu settings. Each field: its meaning, its default, the DOMAIN.md rule it serves."""

    model_config = SettingsConfigDict(
        env_prefix="SIYU_", extra="ignore", use_attribute_docstrings=True
    )

    brand_name: str = "My Brand"
    """The brand's display name."""
    timezone: str = "Asia/Shanghai"
    """IANA time zone that decides calendar days, weeks, months (§1); naive timestamps in
    imported files are read in it."""
    warehouse_backend: str = "duckdb"
    """Analytical engine behind Ibis. Only `duckdb` is wired today."""
    warehouse_path: str = "warehouse.duckdb"
    """Warehouse file, relative to the workspace."""
    ops_url: str = ""
    """SQLAlchemy URL of the operational store; empty = SQLite file `ops.sqlite` in the
    workspace."""
    memory_limit: str = ""
    """DuckDB memory limit (e.g. `4GB`); empty = half of this machine's memory. Larger work
    spills to the workspace's `tmp/` folder. (At 10 M consumers an import with 12 GB ran
    25 % faster than with 4 GB: less spilling.)"""
    threads: int = Field(default=0, ge=0)
    """DuckDB worker threads; 0 = one per core."""
    import_batch_rows: int = Field(default=200_000, ge=1_000)
    """Rows read per batch while importing (bounds memory)."""
    id_salt: str = ""
    """Secret mixed into consumer ids (``'c'`` + 16 hex digits of md5(salt + oldest key)) so an
    id cannot be turned back into a phone number by trying them all. `siyu init` writes a
    random one; changing it changes every consumer id at the next `siyu identity resolve`."""
    oneid_guard_types: list[str] = ["phone", "member"]
    """Key types of which a consumer may hold at most one; a link that would join two is
    reported as a conflict and not merged (§3, configurable)."""

    propagation_window_days: int = Field(default=7, ge=1)
    """Attribution window of a share (§5 a): a referee's paid order counts as the sharer's
    successful propagation when it is placed on the share's local day or within the next
    ``N − 1`` days (day 8 is outside a 7-day window)."""
    propagation_reviews: bool = True
    """Whether a positive review counts as successful propagation (§5 b)."""
    propagation_review_min_rating: int = Field(default=4, ge=1, le=5)
    """Lowest rating that makes a review positive (§5 b)."""

    clv_window_days: int = Field(default=365, ge=1)
    """CLV window W (§6): the days before end(P) whose paid orders make a consumer's CLV."""
    clv_basis: Literal["amount", "profit"] = "amount"
    """CLV basis (§6): `amount` (GMV) or `profit` (`gross_profit`, the handbook's LTV)."""
    clv_horizon_days: int = Field(default=365, ge=1)
    """Horizon of predictive CLV (`siyu clv predict`): the days ahead whose expected purchases
    are valued."""
    clv_discount_rate: float = Field(default=0.10, ge=0, lt=10)
    """Yearly discount rate of predictive CLV (0.10 = 10 % a year), applied month by month."""
    clv_margin: float = Field(default=1.0, gt=0, le=1)
    """Share of spend counted as value in predictive CLV: 1 = amount basis; e.g. 0.35 for a
    35 % gross margin."""
    cycle_prior_days: float = Field(default=2.0, ge=0)
    """Purchase cycles (`siyu clv cycles`): weight, in intervals, of the category's median
    interval beside a consumer's own mean interval (0 = own mean only)."""
    rfm_lookback_days: int = Field(default=365, ge=1)
    """RFM lookback (§9): paid orders in the days before the snapshot."""
    rfm_new_days: int = Field(default=30, ge=1)
    """RFM segment `new` 新客 (§9): first-ever paid order within this many days."""
    rfm_loyal_min_score: int = Field(default=4, ge=1, le=5)
    """`high_value_loyal` 高价值忠诚客 (§9): R, F and M scores all at least this."""
    rfm_warning_max_r: int = Field(default=2, ge=1, le=5)
    """`churn_warning` 流失预警客 (§9): R score at most this …"""
    rfm_warning_min_fm: int = Field(default=3, ge=1, le=5)
    """… and F or M score at least this."""
    rfm_potential_min_r: int = Field(default=3, ge=1, le=5)
    """`potential_repeat` 潜力复购客 (§9): R score at least this."""
    churn_no_engaged_days: int = Field(default=30, ge=1)
    """High churn risk (§10): no engaged interaction (like, comment, message, checkin) in
    this many days …"""
    churn_unread_hours: int = Field(default=72, ge=1)
    """… and a brand message (`message_sent`) older than this many hours with no
    `message_read` after it …"""
    churn_no_view_days: int = Field(default=21, ge=1)
    """… and no `view` in this many days."""
    retention_days: list[int] = [7, 30]
    """N of the N-day retention of entry cohorts (§8)."""
    group_capacity: int = Field(default=400, ge=1)
    """Members at which a group chat is split (§11)."""
    metrics_batch_periods: int = Field(default=6, ge=1)
    """Periods `siyu metrics compute` computes together: more is faster (shared work) but
    holds every consumer's tier for each of them in the engine at once."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name like Asia/Shanghai)") from None
        return v

    @field_validator("oneid_guard_types")
    @classmethod
    def _known_key_types(cls, v: list[str]) -> list[str]:
        from siyu.schema import KEY_TYPES

        bad = [t for t in v if t not in KEY_TYPES]
        if bad:
            raise ValueError(f"unknown key type(s) {bad}; known: {', '.join(KEY_TYPES)}")
        return v

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings, env_settings, _TomlFileSource(settings_cls))

    @property
    def engine_memory(self) -> str:
        """The memory limit handed to the engine: the setting, or half of physical memory."""
        if self.memory_limit:
            return self.memory_limit
        import os

        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # not a POSIX system
            return "4GB"
        return f"{max(total // 2 // 2**20, 256)}MB"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings(path: Path | None, **overrides: Any) -> Settings:
    """Settings from the file at ``path`` (if any), the environment and ``overrides``."""
    values: dict[str, Any] = {}
    if path is not None and path.exists():
        with path.open("rb") as fh:
            try:
                values = tomllib.load(fh)
            except tomllib.TOMLDecodeError as e:
                from siyu.errors import SiyuError

                raise SiyuError(f"{path}: not valid TOML: {e}") from None
    token = _FILE_VALUES.set(values)
    try:
        return Settings(**overrides)
    except ValidationError as e:
        from siyu.errors import SiyuError

        problems = "; ".join(
            f"{'.'.join(map(str, x['loc']))}: {x['msg'].removeprefix('Value error, ')}"
            for x in e.errors()
        )
        raise SiyuError(f"invalid settings: {problems}") from None
    finally:
        _FILE_VALUES.reset(token)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def write_settings(path: Path, values: dict[str, Any]) -> None:
    """Write ``values`` as a commented TOML settings file."""
    lines = ["# siyu workspace settings; SIYU_<NAME> environment variables override them.", ""]
    for name, v in values.items():
        doc = (Settings.model_fields[name].description or "").strip()
        for line in doc.splitlines():
            lines.append(f"# {line.strip()}")
        lines.append(f"{name} = {_toml_value(v)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def settings_markdown() -> str:
    """docs/settings.md, generated from the field docstrings above (``make docs``)."""
    lines = [
        "# Settings",
        "",
        "Generated from `src/siyu/config.py` by `make docs`; a test keeps it equal.",
        "",
        "Each setting has a default, can be set in the workspace's `siyu.toml`, and can be "
        "overridden by an environment variable `SIYU_<NAME>` (upper case; lists as JSON, e.g. "
        "`SIYU_ONEID_GUARD_TYPES='[\"phone\"]'`). `siyu settings` prints the effective values. "
        "`SIYU_HOME` names the workspace and `SIYU_LANG` (`zh`/`en`) the message language.",
        "",
        "| setting | default | meaning |",
        "|---|---|---|",
    ]
    for name, f in Settings.model_fields.items():
        doc = " ".join((f.description or "").split())
        lines.append(f"| `{name}` | `{f.default!r}` | {doc} |")
    return "\n".join(lines) + "\n"

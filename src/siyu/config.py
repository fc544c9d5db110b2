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

from pydantic import Field, SecretStr, ValidationError, field_validator
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
    tag_text_window_days: int = Field(default=30, ge=1, le=3650)
    """Text tags (`siyu tag compute`): a chat message counts for a scenario tag when written
    in this many days before the snapshot, unless the tag sets its own `window`."""
    tag_profiling_consent: bool = True
    """Tags (§12): a consumer whose latest `profiling` consent event (channel `all`) is a
    revocation gets no rule, model or text tag; false = compute tags regardless."""
    tag_lexicon: str = ""
    """Text tags: the brand's chat lexicon (TOML, the format of `siyu tag eval --lexicon`)
    merged over the built-in one, relative to the workspace; empty = built-in only."""
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
    metrics_batch_periods: int = Field(default=0, ge=0)
    """Periods `siyu metrics compute` computes together: more is faster (shared work, fewer
    queries) but holds every consumer's tier for each of them in the engine at once. 0 = as
    many as the engine's memory limit allows, up to 12: about 5.6 million consumer-periods
    per GiB of `memory_limit` (10 M consumers with 11 GiB: 6 periods; 1 M: 12)."""
    export_unmasked_allowed: bool = False
    """Whether `siyu audience export --unmasked` may write phone numbers in full (§12); off,
    phones are always masked (`138****1234`). Every export is in the audit log either way."""
    web_session_hours: int = Field(default=12, ge=1, le=24 * 30)
    """Console sessions (`siyu serve`): hours a login stays valid."""
    web_event_batch_rows: int = Field(default=5_000, ge=1)
    """Event API (`POST /api/v1/events/{table}`): with `web_event_wait_ms` > 0, a request
    stops waiting for company once this many rows of its table are queued."""
    web_event_wait_ms: int = Field(default=0, ge=0, le=10_000)
    """Event API: the longest a posted batch waits for others to share its micro-batch (one
    import run); 0 = no wait (batches posted while a load runs share the next one anyway)."""

    guide_daily_invites: int = Field(default=40, ge=1)
    """Friend invitations a shopping guide is given per brand-local day (§13: a guide adds at
    most 40 new friends a day); invitation tasks beyond it wait for the next day with room,
    and the deferral is recorded."""
    task_pool_guides: list[str] = []
    """Guides who take the tasks of consumers with no guide and no store guide (the pool),
    fewest open tasks first; empty = such tasks wait unassigned (`siyu task list
    --unassigned`)."""
    task_due_days: int = Field(default=3, ge=0)
    """Days a guide task created by an HQ rule has before it is due (a rule may say
    otherwise)."""
    task_expire_days: int = Field(default=7, ge=0)
    """An open guide task this many days past its due time expires at the next
    `siyu task generate`."""

    # -- journeys (issue 6; docs/journeys.md)
    cap_per_channel_day: int = Field(default=1, ge=0)
    """Frequency cap (§13): marketing messages one consumer may get per channel per
    brand-local day; a journey send beyond it is suppressed (`cap_channel_day`)."""
    cap_per_week: int = Field(default=3, ge=0)
    """Frequency cap (§13): marketing messages one consumer may get over all channels per ISO
    week (brand time); beyond it a send is suppressed (`cap_week`)."""
    quiet_hours_start: str = "21:30"
    """Quiet hours start (§13, brand time HH:MM): a journey send due from here …"""
    quiet_hours_end: str = "08:30"
    """… until here waits for this time of the morning (equal start and end: no quiet
    hours)."""
    consent_model: Literal["opt_out", "opt_in"] = "opt_out"
    """Consent for `marketing` sends (§12): `opt_out` = allowed unless revoked for the channel
    (or all); `opt_in` = only with a grant on record."""
    journey_batch: int = Field(default=500, ge=1)
    """Enrolments one engine transaction advances (claimed together, written together)."""
    journey_lease_seconds: int = Field(default=60, ge=1)
    """How long a worker's claim on a batch of enrolments lasts; a worker that dies holding
    it delays those enrolments by at most this."""
    journey_trigger_lookback_hours: int = Field(default=48, ge=0)
    """Real clock (`siyu worker`): a row imported late enters an event-triggered journey at
    its event time when that is at most this many hours before the trigger cursor, else when
    the worker reads it (event triggers follow the imports, each row read once); audience
    triggers re-read this window."""
    journey_late_limit: str = "24h"
    """How late a journey send may go out (a duration: `24h`, `90m`, `2d`; `0` or `off` = no
    limit). A `send`, `webhook` or `coupon` step the engine reaches more than this after its
    scheduled time (the worker was down, a journey was paused) is suppressed as `too_late`
    (a guide task when its due time is that far past), and daily triggers (date, inactivity,
    purchase cycle, churn risk) skip days whose date lies more than this in the past
    (docs/journeys.md, "Downtime and lateness")."""
    worker_interval_seconds: float = Field(default=5.0, gt=0)
    """`siyu worker`: seconds between engine passes when there was nothing to do."""

    # -- channels (issue 7; docs/channels.md). Secrets are SecretStr: never logged or printed.
    wecom_corp_id: str = ""
    """WeCom (企业微信) corp id (企业ID); also the receive id of callback encryption."""
    wecom_secret: SecretStr = SecretStr("")
    """Secret of the WeCom customer-contact (客户联系) app, for `gettoken`."""
    wecom_callback_token: SecretStr = SecretStr("")
    """Token of the WeCom callback URL (signs `msg_signature`)."""
    wecom_encoding_aes_key: SecretStr = SecretStr("")
    """EncodingAESKey of the WeCom callback URL (43 characters; AES-256 key of the events)."""
    wecom_base_url: str = "https://qyapi.weixin.qq.com"
    """WeCom server API base URL (tests point it at a local fake)."""
    wecom_tag_map: dict[str, str] = {}
    """siyu tag → WeCom corp tag id (企业标签 tag_id), used by `mark_tag` sends."""
    wechat_app_id: str = ""
    """Official account (公众号) AppID, for template messages."""
    wechat_app_secret: SecretStr = SecretStr("")
    """Official account AppSecret."""
    wechat_callback_token: SecretStr = SecretStr("")
    """Token of the official account's server URL (服务器配置), /callbacks/wechat: signs
    `signature` and, in safe mode, `msg_signature`."""
    wechat_encoding_aes_key: SecretStr = SecretStr("")
    """EncodingAESKey of the official account's server URL (43 characters), for safe mode
    (安全模式) events; empty = plaintext mode only."""
    miniprogram_app_id: str = ""
    """Mini-program (小程序) AppID, for subscription messages."""
    miniprogram_app_secret: SecretStr = SecretStr("")
    """Mini-program AppSecret."""
    miniprogram_state: Literal["developer", "trial", "formal"] = "formal"
    """Which mini-program version a subscription message opens."""
    wechat_base_url: str = "https://api.weixin.qq.com"
    """WeChat (official account and mini-program) API base URL (tests point it at a fake)."""
    sms_provider: Literal["tencent"] = "tencent"
    """SMS provider; `tencent` = Tencent Cloud SMS API 3.0 (SendSms, TC3-HMAC-SHA256)."""
    sms_secret_id: SecretStr = SecretStr("")
    """Tencent Cloud SecretId."""
    sms_secret_key: SecretStr = SecretStr("")
    """Tencent Cloud SecretKey."""
    sms_sdk_app_id: str = ""
    """SMS SdkAppId (短信应用 ID)."""
    sms_sign_name: str = ""
    """SMS signature (短信签名), e.g. the brand name as approved."""
    sms_region: str = "ap-guangzhou"
    """Tencent Cloud region of the SMS API."""
    sms_endpoint: str = "https://sms.tencentcloudapi.com"
    """SMS API endpoint (tests point it at a fake)."""
    webhook_url: str = ""
    """Default URL of the `webhook` channel (a message may carry its own `url`)."""
    webhook_secret: SecretStr = SecretStr("")
    """HMAC-SHA256 key of the `X-Siyu-Signature` header of webhook calls."""
    webhook_batch_size: int = Field(default=1, ge=1, le=1000)
    """Messages per webhook POST: 1 = one call per message; more = `{"messages": [...]}`
    batches (the receiver must accept them; docs/channels.md)."""
    channel_test_recipients: dict[str, str] = {}
    """Recipient of `siyu channels test CHANNEL` per channel (external_userid, chat id,
    openid, phone, URL); key `guide` = the WeCom userid of the sending guide."""
    channel_concurrency: dict[str, int] = {}
    """Requests a channel may have in flight at once (default 4; file and console 1)."""
    channel_timeout_seconds: float = Field(default=10.0, gt=0)
    """HTTP timeout of one provider call; a timeout is a transient error (retried)."""
    dispatch_batch: int = Field(default=500, ge=1)
    """Outbox rows a dispatcher claims at once."""
    dispatch_lease_seconds: int = Field(default=300, ge=5)
    """A claimed row whose dispatcher died is claimed again after this many seconds; its
    earlier attempt is then *in doubt* (resolved with the provider, or resent where the
    provider deduplicates)."""
    dispatch_max_attempts: int = Field(default=8, ge=1)
    """Attempts before a message with transient errors is dead-lettered."""
    dispatch_backoff_seconds: float = Field(default=30.0, gt=0)
    """First retry delay; doubles per attempt, with jitter (50–100 % of the delay)."""
    dispatch_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    """Longest retry delay."""
    dispatch_wake_seconds: float = Field(default=0.2, gt=0, le=10)
    """`siyu dispatch` when idle: how often it looks for a welcome message (欢迎语) queued by a
    WeCom add-contact callback, whose WelcomeCode is valid for 20 s; other rows wait for the
    next pass (`--interval`)."""
    wecom_welcome_file: str = "welcome.yaml"
    """Welcome-message rules (欢迎语, by 渠道活码 State and guide; docs/channels.md), relative
    to the workspace; a missing file = no automatic welcome messages."""
    callback_window_seconds: int = Field(default=300, ge=10)
    """WeCom and official-account callbacks whose timestamp is further than this from now are
    rejected (replay)."""
    outbox_dir: str = "outbox"
    """Folder (relative to the workspace) the `file` channel appends JSON lines to."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name like Asia/Shanghai)") from None
        return v

    @field_validator("journey_late_limit")
    @classmethod
    def _late_limit(cls, v: str) -> str:
        import re

        v = str(v).strip().lower()
        if v not in ("0", "off") and not re.match(r"^\d+\s*[dhm]$", v):
            raise ValueError(f"journey_late_limit {v!r}: expected a duration like 24h, 90m, "
                             "2d, or 0 / off")
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

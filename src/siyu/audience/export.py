"""``siyu audience export``: the members of a saved audience at its last refresh, to CSV or
Excel, with phone numbers masked (DOMAIN §12).

Columns: ``consumer_id``, ``phone`` (``138****1234``; several are joined with ``;``),
``keys`` (the consumer's other keys, ``type:value`` separated by spaces, e-mails masked),
``gender``, ``city``, ``province``, ``birthday_month``, as the audience language reads them
(the latest ``consumers`` row). Names, full birthdays and message text are never exported.

Phones and e-mails appear in full only with ``unmasked`` *and* the setting
``export_unmasked_allowed``. Every export — and every refused unmasked one — is written to the
audit log (action ``export`` / ``export_denied``; the detail holds counts and options only).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from siyu.audience.compile import ATTRIBUTE_TERMS as ATTRIBUTES
from siyu.audience.compile import AUDIENCE_MEMBERS, latest_attributes
from siyu.audience.saved import get
from siyu.errors import SiyuError, UsageError
from siyu.i18n import tr
from siyu.identity.keys import mask_key
from siyu.models.sources import Sources
from siyu.ops.audit import cli_actor, record

__all__ = ["export", "COLUMNS", "FORMATS", "ExportNotAllowed", "check_target"]

COLUMNS = ("consumer_id", "phone", "keys", "gender", "city", "province", "birthday_month")
FORMATS = (".csv", ".xlsx")
XLSX_MAX_ROWS = 1_048_575  # the sheet's limit, less the header row


class ExportNotAllowed(SiyuError):
    """An unmasked export that the workspace's settings do not allow."""


def check_target(out: Path | str, force: bool) -> Path:
    """The absolute target, once it is a ``.csv`` or ``.xlsx`` path in an existing folder and
    not an existing file (unless ``force``)."""
    p = Path(out).expanduser().absolute()
    if p.suffix.lower() not in FORMATS:
        raise UsageError(tr("--out 须为 .csv 或 .xlsx 文件：{f}",
                            "--out must be a .csv or .xlsx file: {f}", f=p))
    if not p.parent.is_dir():
        raise UsageError(tr("文件夹不存在：{d}（请先创建）",
                            "folder does not exist: {d} (create it first)", d=p.parent))
    if p.is_dir():
        raise UsageError(tr("{f} 是文件夹", "{f} is a folder", f=p))
    if p.exists() and not force:
        raise SiyuError(tr("{f} 已存在；加 --force 覆盖", "{f} already exists; add --force to "
                           "overwrite it", f=p))
    return p


def _rows(ws, name: str, unmasked: bool) -> Iterator[list[Any]]:
    """One row per member, by consumer_id."""
    src = Sources.of(ws)
    con = ws.warehouse.ibis
    m = con.table(AUDIENCE_MEMBERS)
    m = m.filter(m.audience == name).select("consumer_id")
    a = latest_attributes(src)
    t = m.left_join(a, m.consumer_id == a.consumer_id).drop("consumer_id_right")
    t = t.order_by("consumer_id").to_pyarrow()
    idm = src.identity
    keys = (idm.join(m, "consumer_id").select("consumer_id", "key")
            .order_by(["consumer_id", "key"]).to_pyarrow())
    kc, kk = keys.column("consumer_id").to_pylist(), keys.column("key").to_pylist()
    j = 0
    cols = [t.column(c).to_pylist() for c in ("consumer_id", *ATTRIBUTES)]
    for i, cid in enumerate(cols[0]):
        phones, others = [], []
        while j < len(kc) and kc[j] < cid:
            j += 1
        while j < len(kc) and kc[j] == cid:
            k = kk[j]
            if k.startswith("phone:"):
                v = k.partition(":")[2]
                phones.append(v if unmasked else mask_key(k).partition(":")[2])
            else:
                others.append(k if unmasked else mask_key(k))
            j += 1
        yield [cid, ";".join(phones), " ".join(others), *(c[i] for c in cols[1:])]


def _tmp(out: Path) -> Path:
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".part")
    os.close(fd)
    return Path(name)


def _write_csv(rows: Iterator[list[Any]], out: Path) -> int:
    tmp = _tmp(out)
    n = 0
    try:
        with open(tmp, "w", newline="", encoding="utf-8-sig") as f:  # BOM: Excel reads UTF-8
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for r in rows:
                w.writerow(["" if v is None else v for v in r])
                n += 1
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def _write_xlsx(rows: Iterator[list[Any]], out: Path, members: int) -> int:
    from openpyxl import Workbook

    if members > XLSX_MAX_ROWS:
        raise UsageError(tr("人群有 {n} 人，超过 Excel 单表上限 {m}；请导出为 .csv",
                            "the audience has {n} members, more than an Excel sheet holds "
                            "({m}); export to .csv", n=f"{members:,}", m=f"{XLSX_MAX_ROWS:,}"))
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("audience")
    sheet.append(list(COLUMNS))
    n = 0
    for r in rows:
        sheet.append(r)
        n += 1
    tmp = _tmp(out)
    try:
        wb.save(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def export(ws, name: str, out: Path | str, *, unmasked: bool = False, force: bool = False,
           actor: str | None = None) -> dict[str, Any]:
    """Write audience ``name``'s members at its last refresh to ``out`` (.csv or .xlsx) and
    record the export in the audit log. Returns ``{"audience", "out", "rows", "masked",
    "format", "refresh_id", "as_of"}``."""
    actor = actor or cli_actor()
    target = check_target(out, force)
    info = get(ws, name)
    last = info["last_refresh"]
    fmt = target.suffix.lower().lstrip(".")
    if unmasked and not ws.settings.export_unmasked_allowed:
        record(ws.ops, actor, "export_denied", name, {"format": fmt, "masked": False,
                                                      "reason": "export_unmasked_allowed"})
        raise ExportNotAllowed(tr(
            "不允许导出未打码的手机号：工作区设置 export_unmasked_allowed 为 false（§12）",
            "unmasked export is not allowed: the workspace setting export_unmasked_allowed is "
            "false (§12)"))
    if last is None:
        raise SiyuError(tr("人群 {n} 尚未刷新；请先运行 `siyu audience refresh {n}`",
                           "audience {n!r} was never refreshed; run `siyu audience refresh "
                           "{n}` first", n=name))
    rows = _rows(ws, name, unmasked)
    if fmt == "csv":
        n = _write_csv(rows, target)
    else:
        n = _write_xlsx(rows, target, last["members"])
    detail = {"rows": n, "masked": not unmasked, "format": fmt,
              "refresh_id": last["refresh_id"]}
    record(ws.ops, actor, "export", name, detail)
    return {"audience": name, "out": str(target), "rows": n, "masked": not unmasked,
            "format": fmt, "refresh_id": last["refresh_id"], "as_of": last["as_of"]}

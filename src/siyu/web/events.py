"""The event API's buffer: posted rows are loaded into the warehouse in micro-batches by the
file importer itself (:func:`siyu.ingest.import_files` on a JSONL file), so the API applies
exactly the validation, rejects and idempotency of ``siyu import``.

Group commit: a request queues its rows and then waits for the one loader; whoever gets the
loader takes every row queued for that table, so requests that arrive while a load runs share
the next one (and, with ``web_event_wait_ms`` > 0, a request waits that long for company).
Each request gets back its own rejects (row index, column, code, reason) and the totals of the
micro-batch it rode in. A micro-batch the importer cannot read at all is split and each
request retried alone, so one bad request never costs its neighbours their rows.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siyu.errors import SiyuError
from siyu.i18n import tr
from siyu.schema import TABLES

__all__ = ["EventBuffer", "check_rows", "MAX_ROWS"]

MAX_ROWS = 10_000
"""Rows one request may post."""


def check_rows(table: str, rows: list[Any]) -> list[dict[str, Any]]:
    """Rejects the API can tell before loading: a row that is not an object, or whose column
    names are empty or repeat after trimming (the importer would refuse the whole batch)."""
    bad = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            bad.append(_reject(i, "", "not_an_object", "不是 JSON 对象", "not a JSON object"))
            continue
        seen: set[str] = set()
        for k in row:
            name = k.replace("\ufeff", "").strip()
            if not name or name in seen or name in ("attrs", "_line", "_load_id"):
                bad.append(_reject(i, k, "bad_column_name", "列名为空、重复或保留",
                                   "empty, repeated or reserved column name"))
                break
            seen.add(name)
    return bad


def _reject(index: int, column: str, code: str, zh: str, en: str) -> dict[str, Any]:
    return {"index": index, "column": column, "code": code, "reason": tr(zh, en)}


@dataclass
class _Pending:
    rows: list[dict[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    batch: dict[str, Any] | None = None
    error: BaseException | None = None


class EventBuffer:
    def __init__(self, state):
        self.state = state
        self._cond = threading.Condition()
        self._queues: dict[str, list[_Pending]] = {}
        self._loader = threading.Lock()
        self.dir = state.ws.tmp_dir / "api-events"

    def submit(self, table: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Queue ``rows`` (already checked by :func:`check_rows`) for ``table`` and return
        once they are loaded: ``{"received", "accepted", "rejected", "rejects", "batch"}``."""
        p = _Pending(rows)
        settings = self.state.settings
        with self._cond:
            q = self._queues.setdefault(table, [])
            q.append(p)
            self._cond.notify_all()
            if settings.web_event_wait_ms:
                deadline = time.monotonic() + settings.web_event_wait_ms / 1000
                while (sum(len(x.rows) for x in self._queues.get(table, ()))
                       < settings.web_event_batch_rows and not p.done.is_set()):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
        with self._loader:
            if not p.done.is_set():
                with self._cond:
                    batch = self._queues.pop(table, [])
                if batch:
                    self._load(table, batch)
        p.done.wait()
        if p.error is not None:
            raise p.error
        rejected = len({r["index"] for r in p.rejects})
        return {"table": table, "received": len(rows), "accepted": len(rows) - rejected,
                "rejected": rejected, "rejects": p.rejects, "batch": p.batch}

    def _load(self, table: str, batch: list[_Pending]) -> None:
        try:
            self._import(table, batch)
        except SiyuError as e:
            if len(batch) == 1:
                batch[0].error = e
            else:  # the importer refused the whole file: find the request it was about
                for p in batch:
                    try:
                        self._import(table, [p])
                    except SiyuError as e1:
                        p.error = e1
                    except BaseException as e1:  # keep the server up; report it
                        p.error = e1
        except BaseException as e:
            for p in batch:
                p.error = e
        finally:
            for p in batch:
                p.done.set()

    def _import(self, table: str, batch: list[_Pending]) -> None:
        from siyu.ingest import import_files

        self.dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.time_ns()}-{threading.get_ident()}"
        path = self.dir / f"{table}-{stamp}.jsonl"
        owner: list[tuple[int, int]] = []  # file line (1-based) -> (request, row index)
        with path.open("w", encoding="utf-8") as fh:
            for pi, p in enumerate(batch):
                for ri, row in enumerate(p.rows):
                    fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                    owner.append((pi, ri))
        try:
            with self.state.warehouse() as ws:
                res = import_files(ws, table, [path], fmt="jsonl")
        finally:
            path.unlink(missing_ok=True)
        self.state.data_changed()
        for p in batch:
            p.rejects = []
        if res.rejects_file:
            for line, column, code, reason in _read_rejects(Path(res.rejects_file)):
                if 1 <= line <= len(owner):
                    pi, ri = owner[line - 1]
                    batch[pi].rejects.append({"index": ri, "column": column, "code": code,
                                              "reason": reason})
        summary = {"load_id": res.files[0].load_id if res.files else None,
                   "requests": len(batch), "read": res.read, "loaded": res.loaded,
                   "duplicates": res.duplicates, "rejected": res.rejected}
        for p in batch:
            p.batch = summary

    def close(self) -> None:
        pass


def _read_rejects(path: Path) -> list[tuple[int, str, str, str]]:
    out = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            try:
                out.append((int(r["line"]), r["column"], r["code"], r["reason"]))
            except (KeyError, ValueError):
                continue
    return out


def table_names() -> list[str]:
    return list(TABLES)


def describe_error(e: BaseException) -> str:
    return tr("导入失败：{e}", "import failed: {e}", e=str(e).splitlines()[0][:200])

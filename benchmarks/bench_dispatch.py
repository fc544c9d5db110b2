"""Dispatcher throughput: messages delivered per second from the outbox (SQLite) to a local
fake channel, claims, attempt log, outcomes and receipts included.

Channels measured:

- ``webhook`` — a signed JSON POST per message over loopback HTTP to the fake receiver
  (``siyu.channels.fakes.FakeWebhook``, a threaded HTTP/1.1 server), ``--concurrency``
  requests in flight;
- ``wecom`` — 企业群发 tasks to the fake WeCom server; messages of one guide with the same
  content share one task (as the real product does), ``--guides`` guides;
- ``webhook`` in batches (``--webhook-batch``, setting ``webhook_batch_size``): many
  messages per POST;
- ``file`` — JSON lines to the workspace (no network: the dispatcher's own overhead).

    python benchmarks/bench_dispatch.py                    # 20,000 messages per channel
    python benchmarks/bench_dispatch.py --messages 50000 --channels webhook

Prints a Markdown table (and ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from siyu.channels.dispatcher import drain
from siyu.channels.fakes import FakeWebhook, FakeWeCom
from siyu.channels.outbox import enqueue
from siyu.workspace import Workspace


def _ws(root: Path, name: str) -> Workspace:
    os.environ.setdefault("SIYU_ID_SALT", "bench")
    ws = Workspace.init(root / name)
    return ws


def run(channel: str, n: int, concurrency: int, batch: int, guides: int, root: Path,
        webhook_batch: int = 1) -> dict:
    ws = _ws(root, channel)
    s = ws.settings
    s.dispatch_batch = batch
    s.channel_concurrency = {channel: concurrency}
    server = None
    if channel == "webhook":
        server = FakeWebhook("bench-secret").start()
        s.webhook_url, s.webhook_secret = server.url + "/hook", SecretStr("bench-secret")
        s.webhook_batch_size = webhook_batch
    elif channel == "wecom":
        server = FakeWeCom("wwbench", "bench").start()
        s.wecom_corp_id, s.wecom_secret, s.wecom_base_url = "wwbench", SecretStr("bench"), \
            server.url
    now = datetime.now(UTC)
    t = time.perf_counter()
    rows = [{"idempotency_key": f"b{i}", "channel": channel, "recipient": f"wmc{i}",
             "guide_id": f"g{i % guides}", "consumer_id": f"c{i}", "purpose": "service",
             "payload": {"text": "您的专属福利即将过期，是否查看？"}} for i in range(n)]
    for i in range(0, n, 5000):
        enqueue(ws, rows[i:i + 5000], now=now - timedelta(seconds=1))
    queued = time.perf_counter() - t
    t = time.perf_counter()
    got = drain(ws)
    secs = time.perf_counter() - t
    if server is not None:
        server.stop()
    ws.close()
    if channel == "webhook" and webhook_batch > 1:
        channel = f"webhook (batches of {webhook_batch})"
    return {"channel": channel, "messages": n, "sent": got.sent, "dead": got.dead,
            "seconds": round(secs, 2), "per_second": round(got.sent / secs),
            "enqueue_per_second": round(n / queued), "concurrency": concurrency,
            "batch": batch}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--channels", default="webhook,wecom,file")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--guides", type=int, default=50)
    ap.add_argument("--webhook-batch", type=int, default=100,
                    help="also measure webhook batches of this size (0 = no)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        res = [run(c, a.messages, a.concurrency, a.batch, a.guides, Path(d))
               for c in a.channels.split(",")]
        if a.webhook_batch > 1 and "webhook" in a.channels.split(","):
            res.append(run("webhook", a.messages, a.concurrency, a.batch, a.guides,
                           Path(d) / "b", a.webhook_batch))
    if a.json:
        print(json.dumps(res))
        return
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    print("| channel | messages | sent | seconds | messages/s | enqueue rows/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in res:
        print(f"| {r['channel']} | {r['messages']:,} | {r['sent']:,} | {r['seconds']} | "
              f"{r['per_second']:,} | {r['enqueue_per_second']:,} |")


if __name__ == "__main__":
    main()

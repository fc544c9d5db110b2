"""``siyu identity resolve``, ``siyu identity conflicts``, ``siyu consumer show`` and
``siyu consumer index``."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, err, open_workspace, out
from siyu.i18n import tr

identity_app = typer.Typer(help="OneID: join consumer keys into consumers (DOMAIN.md §3).",
                           no_args_is_help=True)
consumer_app = typer.Typer(help="Look at one consumer across all of their keys.",
                           no_args_is_help=True)
app.add_typer(identity_app, name="identity")
app.add_typer(consumer_app, name="consumer")


def _stage_text(stage: str) -> str:
    texts = {
        "nodes": tr("为消费者标识编号", "numbering consumer keys"),
        "links": tr("读取标识关联", "reading identity links"),
        "components": tr("计算连通分量", "finding connected components"),
        "guard": tr("检查合并保护（手机号/会员号）", "applying the merge guard"),
        "ids": tr("生成消费者 ID", "deriving consumer ids"),
        "write": tr("写入身份映射", "writing the identity map"),
    }
    return texts.get(stage, stage)


@contextmanager
def _spinner():
    """A status spinner on stderr (silent when stderr is not a terminal); yields the
    stage callback for :func:`siyu.identity.resolve`."""
    if not err.is_terminal:
        yield None
        return
    with err.status(f"OneID: {_stage_text('nodes')}…") as status:
        yield lambda stage: status.update(f"OneID: {_stage_text(stage)}…")


@identity_app.command("resolve")
def resolve_cmd(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Join consumer keys into consumers with stable ids (DOMAIN.md §3).

    Keys linked by identity_links form one consumer; a link that would give a consumer two
    phone numbers or two member numbers (settings: oneid_guard_types) is not merged and is
    reported as a conflict. Ids of merged or split consumers stay resolvable.
    """
    from siyu.identity import resolve

    ws = open_workspace(home)
    try:
        with _spinner() as progress:
            report = resolve(ws, progress=progress)
    finally:
        ws.close()
    if as_json:
        emit_json(report.to_dict())
        return
    rt = RichTable(title=tr("身份合并（OneID）", "identity resolution (OneID)"),
                   title_justify="left", show_header=False)
    rt.add_column()
    rt.add_column(justify="right")
    rows = [
        (tr("标识", "keys"), report.keys), (tr("消费者", "consumers"), report.consumers),
        (tr("关联", "links"), report.links),
        (tr("多标识消费者", "consumers with ≥ 2 keys"), report.multi_key_consumers),
        (tr("最大消费者的标识数", "keys of the largest consumer"), report.largest_component),
        (tr("冲突（未合并）", "conflicts (not merged)"), report.conflicts),
        (tr("新消费者", "new consumers"), report.new_consumers),
        (tr("合并的旧 ID", "old ids merged"), report.merged),
        (tr("拆分的旧 ID", "old ids split"), report.split),
        (tr("未变", "unchanged"), report.unchanged),
        (tr("ID 不变、标识有变", "same id, keys changed"), report.changed),
    ]
    for label, value in rows:
        rt.add_row(label, f"{value:,}")
    rt.add_row(tr("耗时（秒）", "seconds"), f"{report.seconds:.1f}")
    out.print(rt)
    if report.conflicts:
        out.print(tr("{n} 条关联因合并保护未合并，查看：siyu identity conflicts",
                     "{n} links were not merged by the guard; see: siyu identity conflicts",
                     n=f"{report.conflicts:,}"))


@identity_app.command("conflicts")
def conflicts_cmd(
    limit: Annotated[int, typer.Option("--limit", min=0, help="Show at most N conflicts.")] = 20,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the links the guard refused in the latest run (keys masked)."""
    from siyu.identity import list_conflicts

    ws = open_workspace(home)
    try:
        total, rows = list_conflicts(ws, limit=limit)
    finally:
        ws.close()
    if as_json:
        emit_json({"total": total, "shown": len(rows), "conflicts": rows})
        return
    if not total:
        out.print(tr("没有冲突", "no conflicts"))
        return
    out.print(tr("合并冲突：{n} 条（显示 {k} 条）；每条关联未被合并，两端各自归属的消费者在括号中",
                 "conflicts: {n} (showing {k}); each link was not merged, the consumers its "
                 "keys belong to are in brackets", n=f"{total:,}", k=len(rows)))
    for c in rows:
        out.print(f"{c['key_a']} — {c['key_b']}  {c['reason']}  {c['source'] or '-'}  "
                  f"{_t(c['observed_at'], '-')}  "
                  f"({c['kept_consumer_id_a']}, {c['kept_consumer_id_b']})", markup=False)


@consumer_app.command("show")
def show_cmd(
    key: Annotated[str, typer.Argument(help="A consumer key (phone:138…, unionid:…) or a "
                                       "consumer id (c + 16 hex digits, old ids too).")],
    unmask: Annotated[bool, typer.Option("--unmask",
                      help="Show phone numbers and e-mails in full.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The 360° view of one consumer: keys, attributes, relationships, orders, activity."""
    from siyu.consumers import profile

    ws = open_workspace(home)
    try:
        p = profile(ws, key, mask=not unmask)
    finally:
        ws.close()
    if as_json:
        emit_json(p)
        return
    _print_profile(p)


@consumer_app.command("index")
def index_cmd(
    status: Annotated[bool, typer.Option("--status", help="Only say whether each index table "
                                         "is built and used now.")] = False,
    drop: Annotated[bool, typer.Option("--drop", help="Drop the index (e.g. after erasing "
                                       "personal data); lookups scan the tables again.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the consumer lookup index (消费者索引) that makes `consumer show` and the
    console's 360° page fast: the columns they read, sorted by a hash of the key. Imports
    and OneID do not touch it; rows imported later are still found (read from the tables),
    so re-run it after large imports or OneID runs to keep lookups fast."""
    from siyu.cli.progress import count_progress
    from siyu.consumers.index import INDEXED, build_index, drop_index, index_status

    ws = open_workspace(home)
    try:
        if drop:
            result: dict = {"dropped": drop_index(ws)}
            text = tr("已删除 {n} 张索引表", "dropped {n} index tables", n=len(result["dropped"]))
        elif status:
            result = {"tables": index_status(ws)}
            used = sum(t["usable"] for t in result["tables"])
            text = tr("索引表 {used}/{n} 可用", "index tables in use: {used} of {n}",
                      used=used, n=len(INDEXED))
        else:
            with count_progress(tr("建立消费者索引", "building the consumer index"), len(INDEXED),
                                enabled=not as_json) as progress:
                result = build_index(ws, progress=progress).as_json()
            text = tr("消费者索引：{t} 张表，{r} 行，{s:.1f} 秒",
                      "consumer index: {t} tables, {r} rows, {s:.1f} s",
                      t=len(result["tables"]), r=f"{result['rows']:,}", s=result["seconds"])
    finally:
        ws.close()
    if as_json:
        emit_json(result)
        return
    out.print(text)


def _t(iso: str | None, empty: str = "") -> str:
    """An ISO time in the brand's zone as people read it: ``2024-01-05 09:30``."""
    return iso[:16].replace("T", " ") if iso else empty


def _print_profile(p: dict) -> None:
    out.print(f"[bold]{tr('消费者', 'consumer')} {p['consumer_id']}[/bold]")
    if p["resolved_via"] == "history":
        out.print(tr("（{old} 是旧 ID，已合并到此消费者）",
                     "({old} is an old id, merged into this consumer)", old=p["requested"]))
    keys = RichTable(title=tr("标识", "keys"), title_justify="left")
    for h in (tr("标识", "key"), tr("类型", "type"), tr("首次出现", "first seen")):
        keys.add_column(h)
    for k in p["keys"]:
        keys.add_row(k["key"], k["type"], _t(k["first_seen"]))
    out.print(keys)
    attrs = p["attributes"]
    if attrs:
        shown = {k: v for k, v in attrs.items() if v not in (None, "") and k != "from_key"}
        out.print(tr("属性：", "attributes: ")
                  + (tr("，", ", ").join(f"{k}={v}" for k, v in shown.items()) or "—"),
                  markup=False)
    if p["relationships"]:
        rel = RichTable(title=tr("关系", "relationships"), title_justify="left")
        for h in (tr("场域", "field"), tr("触点", "touchpoint"), tr("状态", "status"),
                  tr("开始", "started"), tr("结束", "ended"), tr("来源", "source")):
            rel.add_column(h)
        for r in p["relationships"]:
            rel.add_row(r["field"], r["field_ref"] or "", r["status"], _t(r["started_at"]),
                        _t(r["ended_at"]), r["source"] or "")
        out.print(rel)
    o = p["orders"]
    out.print(tr("订单 {n}（已支付 {paid}），GMV ¥{gmv:,.2f}，首单 {first}，末单 {last}",
                 "orders {n} ({paid} paid), GMV ¥{gmv:,.2f}, first {first}, last {last}",
                 n=o["count"], paid=o["paid"], gmv=o["gmv"], first=_t(o["first_order_at"], "—"),
                 last=_t(o["last_order_at"], "—")), markup=False)
    counts = ", ".join(f"{t} {n}" for t, n in p["interactions"].items()) or "—"
    out.print(tr("互动：{c}", "interactions: {c}", c=counts), markup=False)
    out.print(tr("最近活动：{t}", "last activity: {t}", t=_t(p["last_activity_at"], "—")))

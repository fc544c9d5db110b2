"""``siyu points …``: the loyalty points ledger 积分 (siyu.activation.points) — grant, redeem,
show. Consumers are named by id or key (phone:138…), resolved through OneID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out
from siyu.i18n import tr

points_app = typer.Typer(help="Loyalty points 积分: grants with an expiry, redemptions, "
                              "balances.", no_args_is_help=True)
app.add_typer(points_app, name="points")

KeyArg = Annotated[str, typer.Argument(metavar="KEY",
                                       help="A consumer id or key (phone:138…, wecom:…).")]
AmountArg = Annotated[int, typer.Argument(metavar="N", help="Points (a whole number ≥ 1).")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept in the ledger).",
                                               show_default=False)]
AtOpt = Annotated[str | None, typer.Option(
    "--at", metavar="TIME", help="When (2025-03-01 = start of that brand-local day, or "
    "2025-03-01T10:00) [default: now].", show_default=False)]


def _open(home):
    from siyu.workspace import Workspace

    ws = Workspace.open(home)
    ws.ops.upgrade()
    return ws


def _consumer(ws, text: str) -> str:
    from siyu.identity.keys import is_consumer_id
    from siyu.identity.lookup import find_consumer

    if is_consumer_id(text.strip()) and not ws.warehouse_path.exists():
        return text.strip()
    return find_consumer(ws, text).consumer_ids[0]


def _at(ws, text: str | None, option: str = "--at") -> datetime:
    if text is None:
        return datetime.now(UTC)
    from siyu.activation.clock import parse_instant

    return parse_instant(text, ws.settings.zone, option)


def _expiry(ws, text: str) -> datetime:
    """``--expires``: a date = the end of that brand-local day; a time = that instant."""
    from siyu.activation.clock import parse_instant

    t = parse_instant(text, ws.settings.zone, "--expires")
    return t + timedelta(days=1) if len(text.strip()) == 10 else t


def _change(kind: str, key: str, n: int, expires: str | None, reason: str | None,
            at: str | None, home, as_json: bool) -> None:
    from siyu.activation import points
    from siyu.ops.audit import cli_actor, record

    ws = _open(home)
    try:
        when = _at(ws, at)  # the options first, then the consumer
        lapse = _expiry(ws, expires) if kind == "grant" else None
        cid = _consumer(ws, key)
        actor = cli_actor()
        with ws.ops.engine.begin() as conn:
            if kind == "grant":
                points.grant(conn, cid, n, at=when, expires_at=lapse, source=actor,
                             reason=reason)
            else:
                points.redeem(conn, cid, n, at=when, source=actor, reason=reason)
            record(None, actor, f"points_{kind}", cid, {"points": n}, conn=conn)
            bal = points.balance(conn, cid, when)
    finally:
        ws.close()
    if as_json:
        emit_json({"consumer_id": cid, "kind": kind, "points": n, "balance": bal})
        return
    out.print(tr("{c}：{k} {n} 积分，余额 {b}", "{c}: {k} {n} points, balance {b}", c=cid,
                 k=tr("发放", "granted") if kind == "grant" else tr("兑换", "redeemed"), n=n,
                 b=bal), markup=False)


@points_app.command("grant")
def grant_cmd(key: KeyArg, n: AmountArg,
              expires: Annotated[str, typer.Option(
                  "--expires", metavar="DATE", help="The last brand-local day the points are "
                  "valid (2025-12-31), or the instant they lapse (2025-12-31T18:00).")],
              reason: ReasonOpt = None, at: AtOpt = None, home: HomeOpt = None,
              as_json: JsonOpt = False) -> None:
    """Grant N points to a consumer, lapsing after --expires."""
    _change("grant", key, n, expires, reason, at, home, as_json)


@points_app.command("redeem")
def redeem_cmd(key: KeyArg, n: AmountArg, reason: ReasonOpt = None, at: AtOpt = None,
               home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Redeem N points (from the grants that lapse first); refused above the balance."""
    _change("redeem", key, n, None, reason, at, home, as_json)


@points_app.command("show")
def show_cmd(key: KeyArg, at: AtOpt = None, home: HomeOpt = None,
             as_json: JsonOpt = False) -> None:
    """A consumer's balance, points lapsing within 30 days, and what is left of each grant."""
    from siyu.activation import points

    ws = _open(home)
    try:
        cid = _consumer(ws, key)
        when = _at(ws, at)
        with ws.ops.engine.connect() as conn:
            lots = points.lots(conn, cid, when)
            rows = points.history(conn, cid)
        zone = ws.settings.zone
    finally:
        ws.close()
    soon = when + timedelta(days=30)
    live = [x for x in lots if x.left > 0]
    rep = {"consumer_id": cid, "at": when.isoformat(), "balance": sum(x.left for x in live),
           "expiring_30_days": sum(x.left for x in live
                                   if x.expires_at is not None and x.expires_at <= soon),
           "lots": [{"granted_at": x.granted_at.isoformat(),
                     "expires_at": x.expires_at.isoformat() if x.expires_at else None,
                     "points": x.points, "left": x.left} for x in lots],
           "ledger": [{**r, "at": r["at"].isoformat(),
                       "expires_at": r["expires_at"].isoformat() if r["expires_at"] else None}
                      for r in rows if r["at"] <= when]}
    if as_json:
        emit_json(rep)
        return
    out.print(tr("{c}：余额 {b} 积分，30 天内到期 {e}", "{c}: balance {b} points, {e} lapse "
                 "within 30 days", c=cid, b=rep["balance"], e=rep["expiring_30_days"]),
              markup=False)
    if live:
        t = Table()
        for c in (tr("发放时间", "granted"), tr("到期", "expires"), tr("积分", "points"),
                  tr("剩余", "left")):
            t.add_column(c)
        for x in live:
            t.add_row(x.granted_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                      x.expires_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                      if x.expires_at else "—", str(x.points), str(x.left))
        out.print(t)

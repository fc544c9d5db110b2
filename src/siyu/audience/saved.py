"""Saved audiences (人群): a name for an expression, kept in the operational store (table
``audiences``). ``in_audience("x")`` links audiences; saving checks that every audience it
names exists and that no chain of them leads back to itself, so they can always be refreshed
in dependency order (:func:`refresh_order`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select, update

from siyu.audience.ast import And, InAudience, Node, Not, Or
from siyu.audience.compile import AudienceNotReady, compile_audience
from siyu.audience.jsonform import from_json, to_json
from siyu.audience.parse import parse
from siyu.audience.service import local_day
from siyu.audience.text import to_text
from siyu.errors import SiyuError, UsageError
from siyu.i18n import tr
from siyu.models.sources import Sources
from siyu.ops.tables import audience_refreshes, audiences

__all__ = ["save", "get", "list_saved", "delete", "references", "refresh_order",
           "AudienceNotFound", "check_name", "MAX_NAME"]

MAX_NAME = 128


class AudienceNotFound(SiyuError):
    """No saved audience of that name."""


def check_name(name: str) -> str:
    """``name`` stripped, once it is a usable audience name (1–128 characters, no control
    characters), else :class:`UsageError`."""
    n = name.strip() if isinstance(name, str) else ""
    if not n or len(n) > MAX_NAME or any(unicodedata.category(c).startswith("C") for c in n):
        raise UsageError(tr("人群名称应为 1–{m} 个字符、不含控制字符：{n!r}",
                            "an audience name has 1 to {m} characters and no control "
                            "characters: {n!r}", m=MAX_NAME, n=name))
    return n


def references(tree: Node) -> set[str]:
    """The saved audiences ``tree`` names with ``in_audience``."""
    if isinstance(tree, And | Or):
        return set().union(*(references(i) for i in tree.items))
    if isinstance(tree, Not):
        return references(tree.item)
    if isinstance(tree, InAudience):
        return {tree.name}
    return set()


def _not_found(name: str) -> AudienceNotFound:
    return AudienceNotFound(tr("没有名为 {n} 的人群；`siyu audience list` 列出已保存的人群",
                               "no saved audience named {n!r}; `siyu audience list` shows "
                               "them", n=name))


def _trees(ws) -> dict[str, Node]:
    with ws.ops.engine.connect() as c:
        rows = c.execute(select(audiences.c.name, audiences.c.tree)).all()
    return {r.name: from_json(r.tree) for r in rows}


def _cycle(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path ``start → … → start`` through ``graph``, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def save(ws, name: str, expr: str | Node, *, replace: bool = False, actor: str = "cli",
         as_of: date | None = None) -> dict[str, Any]:
    """Save ``expr`` as audience ``name`` (``replace`` to change an existing one). The text is
    parsed and compiled; every ``in_audience`` must name a saved audience, without cycles.
    Returns ``{"name", "expr", "created", "note"}`` (``note``: why it cannot be computed yet,
    e.g. tags not computed — it is saved anyway)."""
    name = check_name(name)
    tree = parse(expr) if isinstance(expr, str) else expr
    trees = _trees(ws)
    exists = name in trees
    if exists and not replace:
        raise UsageError(tr("人群 {n} 已存在；加 --replace 替换其表达式",
                            "audience {n!r} already exists; add --replace to change its "
                            "expression", n=name))
    refs = references(tree)
    unknown = sorted(refs - set(trees) - {name})
    if unknown:
        raise UsageError(tr("in_audience 引用了不存在的人群：{u}（请先保存它们）",
                            "in_audience names audiences that are not saved: {u} (save them "
                            "first)", u=", ".join(unknown)))
    graph = {n: references(t) for n, t in trees.items()} | {name: refs}
    cycle = _cycle(graph, name)
    if cycle:
        raise UsageError(tr("人群之间形成循环引用：{c}", "audiences would refer to each other in a "
                            "cycle: {c}", c=" → ".join(cycle)))
    from siyu.audience.refresh import ensure_tables

    if ws.warehouse.has_table("identity_map"):
        ensure_tables(ws)  # in_audience of a saved, never refreshed audience: no members yet
    note = None
    try:
        compile_audience(Sources.of(ws), tree, local_day(ws, as_of))
    except AudienceNotReady as e:
        note = str(e)
    now = datetime.now(UTC)
    row = {"expr": to_text(tree), "tree": to_json(tree), "updated_at": now}
    with ws.ops.engine.begin() as c:
        if exists:
            c.execute(update(audiences).where(audiences.c.name == name).values(**row))
        else:
            c.execute(insert(audiences).values(name=name, created_at=now, created_by=actor,
                                               **row))
    return {"name": name, "expr": row["expr"], "created": not exists, "note": note}


def _refresh_rows(c, ids: Iterable[str]) -> dict[str, dict]:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    q = select(audience_refreshes).where(audience_refreshes.c.refresh_id.in_(ids))
    return {r.refresh_id: dict(r._mapping) for r in c.execute(q)}


def _row(r, last: dict | None) -> dict[str, Any]:
    out = {"name": r.name, "expr": r.expr, "tree": r.tree,
           "created_at": r.created_at.isoformat() if r.created_at else None,
           "updated_at": r.updated_at.isoformat() if r.updated_at else None,
           "created_by": r.created_by, "last_refresh": None}
    if last:
        out["last_refresh"] = {
            "refresh_id": last["refresh_id"], "at": last["at"].isoformat(),
            "as_of": last["as_of"].isoformat(), "members": last["members"],
            "entered": last["entered"], "left": last["left"], "ms": last["ms"]}
    return out


def list_saved(ws) -> list[dict[str, Any]]:
    """Every saved audience with its last refresh (or None), by name."""
    with ws.ops.engine.connect() as c:
        rows = c.execute(select(audiences).order_by(audiences.c.name)).all()
        last = _refresh_rows(c, (r.last_refresh_id for r in rows))
    return [_row(r, last.get(r.last_refresh_id)) for r in rows]


def get(ws, name: str) -> dict[str, Any]:
    """One saved audience (as :func:`list_saved` shows it) with ``"uses"`` (the audiences it
    names) and ``"used_by"`` (the audiences that name it); :class:`AudienceNotFound` if none."""
    with ws.ops.engine.connect() as c:
        r = c.execute(select(audiences).where(audiences.c.name == name)).first()
        if r is None:
            raise _not_found(name)
        last = _refresh_rows(c, [r.last_refresh_id])
    out = _row(r, last.get(r.last_refresh_id))
    trees = _trees(ws)
    out["uses"] = sorted(references(trees[name]))
    out["used_by"] = sorted(n for n, t in trees.items() if name in references(t))
    return out


def delete(ws, name: str) -> dict[str, Any]:
    """Delete audience ``name``: its definition, refresh records and current members (the
    enter/leave history in ``audience_changes`` stays). Refused while another saved audience
    names it with ``in_audience``."""
    trees = _trees(ws)
    if name not in trees:
        raise _not_found(name)
    users = sorted(n for n, t in trees.items() if n != name and name in references(t))
    if users:
        raise UsageError(tr("人群 {n} 仍被 {u} 引用（in_audience），无法删除",
                            "audience {n!r} is used by {u} (in_audience); delete or change "
                            "them first", n=name, u=", ".join(users)))
    from siyu.audience.compile import AUDIENCE_MEMBERS
    from siyu.audience.index import update_audiences

    removed = 0
    if ws.warehouse.has_table(AUDIENCE_MEMBERS):
        con = ws.warehouse.raw
        removed = int(con.execute(f"SELECT count(*) FROM {AUDIENCE_MEMBERS} WHERE audience = ?",
                                  [name]).fetchall()[0][0])
        con.execute(f"DELETE FROM {AUDIENCE_MEMBERS} WHERE audience = ?", [name])
    with ws.ops.engine.begin() as c:
        c.execute(sql_delete(audience_refreshes).where(audience_refreshes.c.audience == name))
        c.execute(sql_delete(audiences).where(audiences.c.name == name))
    update_audiences(ws)
    return {"name": name, "deleted": True, "members_removed": removed}


def refresh_order(ws, name: str | None = None) -> list[tuple[str, Node]]:
    """The audiences to refresh, each after every audience it names: all of them, or ``name``
    and (transitively) the audiences it uses."""
    trees = _trees(ws)
    if name is not None and name not in trees:
        raise _not_found(name)
    wanted: set[str] = set()
    todo = [name] if name is not None else sorted(trees)
    while todo:
        n = todo.pop()
        if n in wanted:
            continue
        wanted.add(n)
        todo.extend(r for r in references(trees[n]) if r in trees)
    order: list[str] = []
    done: set[str] = set()

    def visit(n: str, path: tuple[str, ...]) -> None:
        if n in done:
            return
        if n in path:  # saved audiences are checked on save; a store edited by hand is not
            raise UsageError(tr("人群之间形成循环引用：{c}", "audiences refer to each other in a "
                                "cycle: {c}", c=" → ".join([*path, n])))
        for m in sorted(references(trees[n]) & trees.keys()):
            visit(m, (*path, n))
        done.add(n)
        order.append(n)

    for n in sorted(wanted):
        visit(n, ())
    return [(n, trees[n]) for n in order]

"""Deployed journeys in the ops store: deploy (a new version when the definition changed),
list, show, pause, resume. A version never changes once deployed; enrolments keep theirs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from siyu.activation.clock import now_utc, sim_now, utc
from siyu.activation.definition import Journey, from_dict, parse_definition
from siyu.errors import SiyuError
from siyu.i18n import tr
from siyu.ops.tables import journey_enrolments, journey_versions, journeys

__all__ = ["deploy", "list_journeys", "show", "set_status", "definition", "JourneyNotFound"]


class JourneyNotFound(SiyuError):
    """No deployed journey of that name (or version)."""


def deploy(ops, text: str, *, actor: str, source: str = "") -> dict[str, Any]:
    """Validate and store ``text``; a new version when it differs from the current one."""
    j = parse_definition(text, source)
    now = now_utc()
    with ops.engine.begin() as conn:
        cur = conn.execute(select(journeys).where(journeys.c.name == j.name)).mappings().first()
        if cur is not None:
            last = conn.execute(select(journey_versions.c.checksum).where(
                journey_versions.c.name == j.name,
                journey_versions.c.version == cur["current_version"])).scalar()
            if last == j.checksum():
                return {"name": j.name, "version": cur["current_version"], "changed": False,
                        "status": cur["status"]}
            version = cur["current_version"] + 1
            conn.execute(journeys.update().where(journeys.c.name == j.name).values(
                title=j.title, current_version=version, trigger_type=j.trigger_type,
                updated_at=now))
            status = cur["status"]
        else:
            version, status = 1, "active"
            conn.execute(journeys.insert().values(
                name=j.name, title=j.title, current_version=1, status=status,
                trigger_type=j.trigger_type, trigger_cursor=sim_now(conn), created_at=now,
                updated_at=now))
        conn.execute(journey_versions.insert().values(
            name=j.name, version=version, definition=j.doc, source=text, checksum=j.checksum(),
            deployed_at=now, deployed_by=actor))
    return {"name": j.name, "version": version, "changed": True, "status": status}


def list_journeys(ops) -> list[dict[str, Any]]:
    e = journey_enrolments
    with ops.engine.connect() as conn:
        counts: dict[str, dict[str, int]] = {}
        for name, st, n in conn.execute(select(e.c.journey, e.c.status, func.count())
                                        .group_by(e.c.journey, e.c.status)):
            counts.setdefault(name, {})[st] = n
        rows = conn.execute(select(journeys).order_by(journeys.c.name)).mappings().all()
    return [{"name": r["name"], "title": r["title"], "version": r["current_version"],
             "status": r["status"], "trigger": r["trigger_type"],
             "active": counts.get(r["name"], {}).get("active", 0),
             "entered": sum(counts.get(r["name"], {}).values())} for r in rows]


def show(ops, name: str) -> dict[str, Any]:
    with ops.engine.connect() as conn:
        r = conn.execute(select(journeys).where(journeys.c.name == name)).mappings().first()
        if r is None:
            raise _missing(name)
        versions = conn.execute(
            select(journey_versions.c.version, journey_versions.c.checksum,
                   journey_versions.c.deployed_at, journey_versions.c.deployed_by,
                   journey_versions.c.source)
            .where(journey_versions.c.name == name).order_by(journey_versions.c.version)
        ).mappings().all()
    return {"name": name, "title": r["title"], "status": r["status"],
            "version": r["current_version"], "trigger": r["trigger_type"],
            "trigger_cursor": utc(r["trigger_cursor"]),
            "versions": [{"version": v["version"], "checksum": v["checksum"],
                          "deployed_at": utc(v["deployed_at"]), "deployed_by": v["deployed_by"]}
                         for v in versions],
            "source": versions[-1]["source"] if versions else ""}


def set_status(ops, name: str, status: str) -> dict[str, Any]:
    with ops.engine.begin() as conn:
        n = conn.execute(journeys.update().where(journeys.c.name == name)
                         .values(status=status, updated_at=now_utc())).rowcount
    if not n:
        raise _missing(name)
    return {"name": name, "status": status}


def _missing(name: str) -> JourneyNotFound:
    return JourneyNotFound(tr("没有名为 {n} 的旅程（先 siyu journey deploy FILE）",
                              "no journey named {n!r} (deploy one with `siyu journey deploy "
                              "FILE`)", n=name))


def definition(conn, name: str, version: int) -> Journey:
    """The definition of one deployed version (cached: versions never change)."""
    return _cached(str(conn.engine.url), name, version, lambda: conn.execute(
        select(journey_versions.c.definition).where(journey_versions.c.name == name,
                                                    journey_versions.c.version == version)
    ).scalar())


_CACHE: dict[tuple[str, str, int], Journey] = {}


def _cached(url: str, name: str, version: int, load) -> Journey:
    key = (url, name, version)
    j = _CACHE.get(key)
    if j is None:
        doc = load()
        if doc is None:
            raise JourneyNotFound(f"journey {name} version {version} is not stored")
        j = from_dict(doc)
        _CACHE[key] = j
    return j

"""Roles and what each may do (C12, C13). A registry: a role is a name and a set of
permissions; ``require(permission)`` guards routes and pages.

| role | for | may |
|---|---|---|
| admin | IT, compliance | everything, users and keys, unmasked phones |
| operator | 私域运营 | metrics, consumers (masked), audiences incl. save and export, events, journeys |
| analyst | data analysts | metrics, consumers (masked), audience counts |
| guide | 导购 | only its own customers (masked) and its own tasks |
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Role", "ROLES", "PERMISSIONS", "role_names"]

PERMISSIONS: dict[str, str] = {
    "metrics": "read the metric families and the dashboard",
    "consumers": "look up any consumer's 360° view",
    "own_consumers": "look up the consumers of one's own guide relationship",
    "unmask": "see personal keys (phones) unmasked; every such view is audited",
    "audiences": "count audiences and use the audience builder",
    "audiences_write": "save and refresh audiences",
    "export": "export audience members (audited)",
    "ingest": "post events to the event API",
    "tasks": "see and complete guide tasks",
    "journeys": "deploy, pause and resume journeys; read the outbox",
    "users": "manage console users and API keys",
}


@dataclass(frozen=True)
class Role:
    name: str
    zh: str
    permissions: frozenset[str]

    def may(self, permission: str) -> bool:
        return permission in self.permissions


ROLES: dict[str, Role] = {r.name: r for r in (
    Role("admin", "管理员", frozenset(PERMISSIONS)),
    Role("operator", "运营", frozenset({"metrics", "consumers", "audiences", "audiences_write",
                                       "export", "ingest", "tasks", "journeys"})),
    Role("analyst", "分析师", frozenset({"metrics", "consumers", "audiences"})),
    Role("guide", "导购", frozenset({"own_consumers", "tasks"})),
)}


def role_names() -> list[str]:
    return list(ROLES)

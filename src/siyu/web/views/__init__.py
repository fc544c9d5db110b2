"""The console pages (server-rendered, zh-CN first). Each page shows the numbers of one JSON
endpoint of the API (its ``json_url``), computed by the same service call."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.web.views import admin, audiences, consumers, login, metrics

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
for _m in (login, metrics, audiences, consumers, admin):
    router.include_router(_m.router)

try:  # the guide workbench, once siyu.activation (issue 6) is there
    import siyu.activation.tasks  # noqa: F401
except ImportError:  # pragma: no cover - older trees
    pass
else:
    from siyu.web.views import tasks

    router.include_router(tasks.router)

try:  # journey pages, once siyu.activation (issue 6) is there
    import siyu.activation.store  # noqa: F401
except ImportError:  # pragma: no cover - older trees
    pass
else:
    from siyu.web.views import journeys

    router.include_router(journeys.router)

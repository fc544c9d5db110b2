"""The HTTP API (``/api/v1``), one router per area; every error is
``{"code", "message": {"zh", "en"}}`` (:mod:`siyu.web.errors`)."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.web.api import admin, audiences, auth, consumers, events, metrics

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
for _m in (auth, metrics, consumers, audiences, events, admin):
    router.include_router(_m.router)

try:  # guide tasks, once siyu.activation (issue 6) is there
    import siyu.activation.tasks  # noqa: F401
except ImportError:  # pragma: no cover - older trees
    pass
else:
    from siyu.web.api import tasks

    router.include_router(tasks.router)

try:  # journeys and the outbox, once siyu.activation and siyu.channels are there
    import siyu.activation.store  # noqa: F401
    import siyu.channels.outbox  # noqa: F401
except ImportError:  # pragma: no cover - older trees
    pass
else:
    from siyu.web.api import journeys

    router.include_router(journeys.router)

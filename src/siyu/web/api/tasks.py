"""``/api/v1/tasks``: shopping-guide tasks (导购任务, :mod:`siyu.activation.tasks`). A guide
sees and completes only its own tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from siyu.web.api.schemas import ERRORS, Error
from siyu.web.auth import Principal
from siyu.web.deps import get_state, require
from siyu.web.errors import ApiError, bilingual

router = APIRouter(prefix="/tasks", tags=["tasks"],
                   responses={**ERRORS, 404: {"model": Error, "description": "No such task."}})


class Done(BaseModel):
    result: str | None = Field(default=None, max_length=2000,
                               description="What the guide did and how it went.")


def _json(task: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in task.items()}


def tasks_of(state, p: Principal, guide: str | None = None, status: str | None = "open",
             limit: int = 200) -> list[dict[str, Any]]:
    """The tasks ``p`` may see: a guide's own; anyone's (optionally of ``guide``) else."""
    from siyu.activation.tasks import list_tasks

    if p.role.name == "guide":
        if guide not in (None, p.guide_id):
            raise ApiError(403, "forbidden", "导购只能查看自己的任务",
                           "a guide sees only its own tasks")
        guide = p.guide_id
    return [_json(t) for t in bilingual(list_tasks, state.ws.ops, guide=guide, status=status,
                                        limit=limit)]


def complete_task(state, p: Principal, task_id: str, result: str | None) -> dict[str, Any]:
    from siyu.activation.tasks import complete, get_task

    task = bilingual(get_task, state.ws.ops, task_id)
    if p.role.name == "guide" and task["guide_id"] != p.guide_id:
        raise ApiError(403, "forbidden", "这不是您的任务", "this is not your task")
    return _json(bilingual(complete, state.ws.ops, task_id, result, actor=p.actor))


@router.get("", summary="Guide tasks")
def list_(request: Request,
          guide: Annotated[str | None, Query(max_length=64, description="A guide's tasks "
                                             "(a guide always gets its own).")] = None,
          status: Annotated[str | None, Query(pattern="^(open|done|skipped|expired)$")] = "open",
          limit: Annotated[int, Query(ge=1, le=1000)] = 200,
          p: Principal = Depends(require("tasks"))) -> list[dict[str, Any]]:
    """Tasks by due time; open tasks not yet available (invitations waiting for a later day)
    are left out."""
    return tasks_of(get_state(request), p, guide, status, limit)


@router.post("/{task_id}/done", summary="Mark a task done")
def done(request: Request, body: Done,
         task_id: Annotated[str, Path(min_length=1, max_length=64)],
         p: Principal = Depends(require("tasks"))) -> dict[str, Any]:
    """Report an open task done with its result (a guide: only its own tasks)."""
    return complete_task(get_state(request), p, task_id, body.result)

"""The guide workbench (导购工作台): today's tasks, one-click done with a result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from siyu.web.api.tasks import complete_task, tasks_of
from siyu.web.deps import get_state
from siyu.web.views.pages import page_require, render

router = APIRouter()


@router.get("/tasks")
def workbench(request: Request, guide: str | None = None, done: str | None = None):
    user = page_require(request, "tasks")
    st = get_state(request)
    zone = st.settings.zone
    today = datetime.now(UTC).astimezone(zone).date()
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), zone)
    rows = [t for t in tasks_of(st, user, guide or None, "open")
            if datetime.fromisoformat(t["due_at"]) < end]
    return render(request, "tasks.html", user, tasks=rows, today=today.isoformat(),
                  guide=guide if user.role.name != "guide" else user.guide_id, done=done,
                  json_url="/api/v1/tasks" + (f"?guide={guide}" if guide else ""))


@router.post("/tasks/{task_id}/done")
def mark_done(request: Request, task_id: str, result: str = Form("")):
    user = page_require(request, "tasks")
    complete_task(get_state(request), user, task_id, result.strip() or None)
    return RedirectResponse(f"/tasks?done={task_id}", status_code=303)

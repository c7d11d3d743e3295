"""Task status and history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from app.api.deps import DbDep, SessionDep
from app.api.schemas import ErrorOut
from app.errors import AppError
from app.models.task import Task, TaskList

router = APIRouter(tags=["analysis"])


class TaskNotFound(AppError):
    def __init__(self) -> None:
        super().__init__("analysis not found", 404)


@router.get("/api/status/{task_id}", response_model=Task, responses={404: {"model": ErrorOut}})
async def task_status(task_id: str, db: DbDep, session: SessionDep) -> Response:
    """The state of one of your analyses."""
    task = await db.tasks.get_task(task_id, session.viewer)
    if task is None:
        raise TaskNotFound()
    return json_response(task)


@router.get("/api/history", response_model=TaskList)
async def history(
    db: DbDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    """Your analyses, newest first (administrators see everyone's, with the owner)."""
    tasks, total = await db.tasks.list_tasks(session.viewer, limit=limit, offset=offset)
    return json_response(TaskList(tasks=tasks, total=total))


def json_response(model: BaseModel) -> Response:
    """The model serialised once by pydantic-core (returning the model would validate it again first)."""
    return Response(model.model_dump_json(), media_type="application/json")

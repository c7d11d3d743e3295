"""The JSON and HTML reports of a completed analysis, and deleting an analysis."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from app.api.deps import DbDep, SessionDep
from app.api.routes.tasks import TaskNotFound
from app.api.schemas import ErrorOut, MessageOut
from app.errors import AppError
from app.services.storage import remove_files, remove_task_reports
from app.worker.runner import NONCE_PLACEHOLDER

router = APIRouter(tags=["reports"])
assets_router = APIRouter(include_in_schema=False)
_NOT_FOUND = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}}


class ReportNotReady(AppError):
    def __init__(self, status: str) -> None:
        super().__init__(f"the report is not available: the analysis is {status}", 409)


def report_csp(nonce: str) -> str:
    """Scripts only from us or carrying this response's nonce; nothing may frame the report."""
    return (
        f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


async def _report_path(db: DbDep, session: SessionDep, task_id: str, key: str) -> Path:
    paths = await db.tasks.get_paths(task_id, session.viewer)
    if paths is None:
        raise TaskNotFound()
    path = paths.get(key)
    if not path or not Path(path).is_file():
        task = await db.tasks.get_task(task_id, session.viewer)
        raise ReportNotReady(task.status.value if task else "gone")
    return Path(path)


@router.get(
    "/api/reports/{task_id}/json",
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}, **_NOT_FOUND},
)
async def report_json(task_id: str, db: DbDep, session: SessionDep) -> FileResponse:
    """The JSON report (the engine's AnalysisResult)."""
    path = await _report_path(db, session, task_id, "report_json_path")
    return FileResponse(
        path, media_type="application/json", filename=f"{task_id}.json", content_disposition_type="inline"
    )


@router.get("/api/reports/{task_id}/html", response_class=HTMLResponse, responses=_NOT_FOUND)
async def report_html(task_id: str, db: DbDep, session: SessionDep) -> HTMLResponse:
    """The HTML report, served with a strict Content-Security-Policy."""
    path = await _report_path(db, session, task_id, "report_html_path")
    nonce = secrets.token_urlsafe(18)
    html = (await asyncio.to_thread(path.read_text, encoding="utf-8")).replace(NONCE_PLACEHOLDER, nonce)
    return HTMLResponse(
        html, headers={"Content-Security-Policy": report_csp(nonce), "Cache-Control": "private, no-store"}
    )


@router.delete("/api/reports/{task_id}", response_model=MessageOut, responses={404: {"model": ErrorOut}})
async def delete_report(task_id: str, db: DbDep, session: SessionDep) -> MessageOut:
    """Delete one of your analyses: its task, progress, upload and reports."""
    files = await db.tasks.delete_task(task_id, session.viewer)
    if files is None:
        raise TaskNotFound()
    remove_files(*files)
    remove_task_reports(Path(db.settings.DATA_DIR), task_id)
    return MessageOut(detail="analysis deleted")


@assets_router.get("/static/report/{name}")
async def report_asset(name: str) -> FileResponse:
    """The scripts and styles the HTML report loads (report.js, report.css, plotly.min.js)."""
    from pcap_analyzer.report.html import ASSET_FILES, asset_path

    if name not in ASSET_FILES:
        raise AppError("not found", 404)
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(asset_path(name), media_type=media, headers={"Cache-Control": "public, max-age=3600"})

"""Browser UI pages: server-rendered shells whose scripts talk to the JSON API (no inline script)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))

router = APIRouter(include_in_schema=False)

_PAGES = {
    "/login": "login",
    "/register": "register",
    "/upload": "upload",
    "/history": "history",
    "/profile": "profile",
    "/admin": "admin",
    "/forgot-password": "forgot-password",
    "/reset-password": "reset-password",
}


def _render(request: Request, page: str, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(request, f"{page}.html", {"page": page, **context})


@router.get("/")
async def index() -> RedirectResponse:
    """The upload page is home."""
    return RedirectResponse("/upload", status_code=307)


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
async def task_page(request: Request, task_id: str) -> HTMLResponse:
    """Live progress of one analysis (the page's script checks access through the API)."""
    return _render(request, "task", task_id=task_id)


def _page_endpoint(page: str):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> HTMLResponse:
        return _render(request, page)

    endpoint.__name__ = f"{page}_page"
    return endpoint


for _path, _page in _PAGES.items():
    router.add_api_route(_path, _page_endpoint(_page), methods=["GET"], response_class=HTMLResponse)

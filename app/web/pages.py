"""Browser UI pages: server-rendered shells whose scripts talk to the JSON API (no inline script)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))

router = APIRouter(include_in_schema=False)

_PAGES = {
    "/login": "login",
    "/register": "register",
    "/history": "history",
    "/profile": "profile",
    "/admin": "admin",
    "/forgot-password": "forgot-password",
    "/reset-password": "reset-password",
}


def _render(request: Request, page: str, status_code: int = 200, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(
        request, f"{page}.html", {"page": page, **context}, status_code=status_code
    )


def _max_upload_mb(request: Request) -> int | None:
    services = getattr(request.app.state, "services", None)
    return services.settings.MAX_UPLOAD_MB if services is not None else None


@router.get("/upload", response_class=HTMLResponse)
async def upload_page(request: Request) -> HTMLResponse:
    """The upload form, stating the server's size limit."""
    return _render(request, "upload", max_upload_mb=_max_upload_mb(request))


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """Browsers ask for /favicon.ico on pages without an icon link (the reports, the API docs)."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


# ReDoc's bundle shows its maker's logo from cdn.redoc.ly; this copy points it at our own file, so the
# API documentation, like every page here, loads nothing from another site.
_REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_JS_URL = "/docs-assets/redoc.standalone.js"


@lru_cache(maxsize=1)
def _redoc_bundle() -> str:
    import fastapi_offline

    bundle = Path(fastapi_offline.__file__).with_name("static") / "redoc.standalone.js"
    return bundle.read_text(encoding="utf-8").replace(_REDOC_CDN_LOGO, "/static/redoc-logo.svg")


@router.get(REDOC_JS_URL)
async def redoc_js() -> Response:
    """ReDoc's script, with its logo served from here (see _redoc_bundle)."""
    headers = {"Cache-Control": "public, max-age=3600"}
    return Response(_redoc_bundle(), media_type="text/javascript", headers=headers)


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    """The API reference (ReDoc), every asset served locally."""
    return get_redoc_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=REDOC_JS_URL,
        redoc_favicon_url="/static/favicon.svg",
        with_google_fonts=False,
    )


def _wants_html(request: Request) -> bool:
    """A browser navigating to a page (not the API, not a script's fetch)."""
    accept = request.headers.get("accept", "")
    return request.method == "GET" and not request.url.path.startswith("/api/") and "text/html" in accept


def install_html_not_found(app: FastAPI) -> None:
    """Answer a browser's 404 with a page; API clients keep the JSON answer of the existing handler."""
    json_handler = app.exception_handlers[StarletteHTTPException]

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and _wants_html(request):
            return _render(request, "not_found", status_code=404, path=request.url.path)
        response: Response = await json_handler(request, exc)  # type: ignore[misc]
        return response

    app.add_exception_handler(StarletteHTTPException, not_found)


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

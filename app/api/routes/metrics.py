"""GET /metrics: Prometheus text exposition, for administrators or a scraper holding METRICS_TOKEN."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.api.deps import DbDep, Forbidden, get_session, is_admin, oauth2_scheme
from app.api.schemas import ErrorOut
from app.metrics import CONTENT_TYPE, render

router = APIRouter(tags=["system"])
_DENIED = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}


@router.get("/metrics", response_class=Response, responses=_DENIED)
async def metrics(
    request: Request, db: DbDep, bearer: Annotated[str | None, Depends(oauth2_scheme)]
) -> Response:
    """Prometheus metrics. `Authorization: Bearer <METRICS_TOKEN>`, or an administrator's session."""
    token = db.settings.METRICS_TOKEN
    if not (token and bearer and hmac.compare_digest(bearer.encode(), token.encode())):
        session = await get_session(request, db, bearer)
        if not is_admin(session.user):
            raise Forbidden("administrators only (or the METRICS_TOKEN bearer token)")
    return Response(await render(db.pool.engine), media_type=CONTENT_TYPE)

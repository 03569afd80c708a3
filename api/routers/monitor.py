"""GET /monitor: the page a person reads to see whether the data still looks like itself."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

from api.deps import StoreDep
from api.monitoring.page import render_page
from api.monitoring.published import read_published

router = APIRouter(tags=["observability"])


@router.get(
    "/monitor",
    summary="Feature monitoring (HTML)",
    description=(
        "Per feature view: its freshness over the kept syncs against its target, and per feature its histogram "
        "now against the view's reference, its drift (PSI), null rate and verdict, and the schema changes of the "
        "last sync, as `python -m sync` computed them. Inline SVG, no scripts. 503 while Redis is unreachable or "
        "holds no registry."
    ),
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The monitoring page."}},
)
async def monitor(store: StoreDep) -> Response:
    served = await store.current_served_registry()
    views = [view.name for view in served.registry.views]
    kept = await read_published(store, views)
    last_syncs = {name: served.last_sync_at(name) for name in views}
    return HTMLResponse(render_page(served.registry, kept, last_syncs, store.clock()))

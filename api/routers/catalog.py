"""The feature catalog: dbt's docs as one static HTML file, served at /catalog.

`dbt docs generate --static` (or `make docs`) writes target/static_index.html,
which holds the manifest and catalog inside it: descriptions, entity, data type,
freshness, ttl, owner and lineage of every feature. The API may run where the
dbt project is not on disk, so the file's path is configurable.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, Response

from api.core.responses import json_response
from api.routers.schemas import error_example

CATALOG_ENV = "FEATURE_STORE_CATALOG"
PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_CATALOG = PROJECT_DIR / "target" / "static_index.html"

router = APIRouter(tags=["catalog"])


def catalog_path() -> Path:
    """$FEATURE_STORE_CATALOG, else the project's target/static_index.html; read per request."""
    configured = os.environ.get(CATALOG_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_CATALOG


@router.get(
    "/catalog",
    summary="The feature catalog (dbt docs)",
    description=(
        "dbt's documentation site as one HTML page: every feature view and feature with its description, "
        "entity, data type, freshness, ttl and owner, the tests that guard it, and lineage from the raw data to "
        f"the training sets and this API. Built by `make docs` (`dbt docs generate --static`); set "
        f"`{CATALOG_ENV}` to serve the file from another path. 404 while it has not been built."
    ),
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}}, "description": "The catalog page."},
        404: error_example("The catalog has not been built.", "catalog_not_built",
                           "no feature catalog at target/static_index.html: run `make docs`"),
    },
)
async def catalog() -> Response:
    path = catalog_path()
    if not path.is_file():
        return json_response({
            "error": "catalog_not_built",
            "detail": (
                f"no feature catalog at {path}: build it in the dbt project with `make docs` (or `dbt docs "
                f"generate --static` after `dbt build`), or set {CATALOG_ENV} to the path of static_index.html"
            ),
        }, 404)
    return FileResponse(path, media_type="text/html; charset=utf-8")

"""Prometheus metrics of the API, summed over its workers."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from prometheus_client.metrics_core import Metric
from starlette.responses import Response

from api.core import metrics
from api.core.errors import ApiError
from api.deps import StoreDep
from api.monitoring.gauges import monitoring_families
from api.monitoring.published import read_published

router = APIRouter(tags=["observability"])

METRICS_EXAMPLE = """\
# HELP feature_api_requests_total HTTP requests answered, by endpoint (route template), method and status code.
# TYPE feature_api_requests_total counter
feature_api_requests_total{endpoint="/features/{entity}/{id}",method="GET",status="200"} 1042.0
# HELP feature_api_view_last_sync_age_seconds Seconds since each view's last successful sync, ...
# TYPE feature_api_view_last_sync_age_seconds gauge
feature_api_view_last_sync_age_seconds{view="user_watch_stats"} 1834.2
"""


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description=(
        "Prometheus text format, summed over every worker: `feature_api_requests_total` and "
        "`feature_api_request_duration_seconds` (a histogram) per endpoint, `feature_api_redis_errors_total`, "
        "`feature_api_entities_not_found_total` per entity, and per view, judged at scrape time, "
        "`feature_api_view_last_sync_age_seconds` (since its last successful sync), "
        "`feature_api_view_newest_served_age_seconds` (since the event time of the newest row it served), "
        "`feature_api_view_lag_seconds` (past its freshness target) and "
        "`feature_api_view_freshness_target_seconds`; per feature, as of the last sync, "
        "`feature_api_feature_null_rate`, `feature_api_feature_drift_psi` and "
        "`feature_api_feature_threshold_crossed` (see GET /monitor). "
        "Answers while Redis is down, without the sync ages."
    ),
    response_class=Response,
    responses={200: {"content": {"text/plain": {"example": METRICS_EXAMPLE}}, "description": "The metrics."}},
)
async def get_metrics(store: StoreDep) -> Response:
    last_syncs: dict[str, datetime | None] | None
    data: list[Metric] = []
    try:
        served = await store.current_served_registry()
        last_syncs = {view.name: served.last_sync_at(view.name) for view in served.registry.views}
        kept = await read_published(store, [view.name for view in served.registry.views])
        data = monitoring_families(served.registry, kept, last_syncs, store.clock())
    except ApiError:  # Redis down or no registry: the other metrics matter all the more
        last_syncs = None
    return Response(metrics.exposition(last_syncs, store.clock(), data), media_type=metrics.CONTENT_TYPE)

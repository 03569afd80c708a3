"""`python -m sync monitor`'s table: per view and feature, the latest sync against its reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from feature_store.monitoring.profile import ViewMonitoring
from feature_store.registry.model import FeatureView


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def report_lines(views: Sequence[FeatureView], kept: Mapping[str, ViewMonitoring]) -> tuple[list[str], bool]:
    """The table's lines, and whether any view crossed a threshold or changed its schema."""
    lines: list[str] = []
    crossed = False
    for view in views:
        monitoring = kept.get(view.name)
        latest = monitoring.latest if monitoring else None
        if latest is None:
            lines += [f"{view.name}: no statistics yet (run `python -m sync`)", ""]
            continue
        where = f" synced {latest.reference_synced_at}" if latest.reference_synced_at else ""
        lines.append(f"{view.name}: sync of {latest.synced_at}, {latest.rows:,} entities, against "
                     f"{latest.reference}{where} (drift at PSI >= {latest.drift_threshold:g}, null rate up by "
                     f"more than {latest.null_rate_threshold:.0%})")
        lines.append(f"  {'feature':<28} {'null now':>9} {'null ref':>9} {'drift':>8}  verdict")
        for drift in latest.drift:
            score = "-" if drift.psi is None else f"{drift.psi:.3f}"
            lines.append(f"  {drift.feature:<28} {_rate(drift.null_rate):>9} {_rate(drift.reference_null_rate):>9} "
                         f"{score:>8}  {drift.verdict}")
        for change in latest.schema_changes:
            lines.append(f"  schema change: {change.describe()}")
        crossed = crossed or latest.crossed
        lines.append("")
    return lines, crossed

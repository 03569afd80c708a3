"""GET /monitor as HTML: per view its freshness over the kept syncs, per feature its histogram now against the
reference, drift, null rate, and the latest schema changes.

Charts are inline SVG drawn here, on the server: the page has no script and
loads nothing from any network, so it reads the same in any browser, with or
without JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape

from feature_store.monitoring.profile import NO_REFERENCE, OK, FeatureStats, Histogram, SyncProfile, ViewMonitoring
from feature_store.registry.durations import format_duration
from feature_store.registry.model import FeatureView, Registry

NOW_COLOUR, REFERENCE_COLOUR, LATE_COLOUR, ON_TIME_COLOUR = "#2f6fb0", "#b7b7b7", "#c0392b", "#3a9a5b"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; } td, th { padding: 0.35rem 0.6rem; text-align: left;
vertical-align: middle; border-bottom: 1px solid #eee; } th { background: #f6f6f6; }
.ok { color: #1e7b3c; } .crossed { color: #b02a1c; font-weight: bold; } .none { color: #777; }
.legend span { display: inline-block; width: 0.8rem; height: 0.8rem; margin: 0 0.3rem 0 1rem; }
.summary { color: #555; }
"""


def _seconds(value: float) -> str:
    seconds = int(value)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def freshness_chart(view: FeatureView, syncs: tuple[SyncProfile, ...], last_sync: datetime | None,
                    now: datetime) -> str:
    """Bars: the time between consecutive kept syncs (how stale the view got), and since the last one until now,
    against the freshness target (the dashed line)."""
    target = view.freshness.total_seconds()
    bars = [(profile.synced_at, profile.interval_seconds) for profile in syncs if profile.interval_seconds is not None]
    if last_sync is not None:
        bars.append(("now", (now - last_sync).total_seconds()))
    if not bars:
        return '<p class="none">Only one sync kept so far: no interval to show yet.</p>'
    width, height, left, bottom = 640, 150, 48, 22
    top = max(max(value for _, value in bars), target) * 1.15
    step = (width - left - 8) / len(bars)
    y = lambda value: height - bottom - (height - bottom - 8) * value / top  # noqa: E731 (a scale, named once)
    parts = [f'<svg role="img" aria-label="freshness of {escape(view.name)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>Time between syncs of {escape(view.name)} against its freshness target "
             f"{escape(format_duration(view.freshness))}</title>"]
    for index, (label, value) in enumerate(bars):
        colour = LATE_COLOUR if value > target else ON_TIME_COLOUR
        x = left + index * step + step * 0.15
        parts.append(f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{step * 0.7:.1f}" '
                     f'height="{max(y(0) - y(value), 1):.1f}" fill="{colour}"><title>{escape(label)}: '
                     f'{_seconds(value)} since the sync before</title></rect>')
    parts.append(f'<line x1="{left}" x2="{width - 4}" y1="{y(target):.1f}" y2="{y(target):.1f}" stroke="#333" '
                 f'stroke-dasharray="5,4"/><text x="{left - 4}" y="{y(target) + 4:.1f}" font-size="11" '
                 f'text-anchor="end">{escape(format_duration(view.freshness))}</text>')
    parts.append(f'<line x1="{left}" x2="{width - 4}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#999"/>')
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="11">{escape(bars[0][0])}</text>'
                 f'<text x="{width - 4}" y="{height - 6}" font-size="11" text-anchor="end">'
                 f'{escape(bars[-1][0])}</text></svg>')
    return "".join(parts)


def histogram_chart(name: str, now: Histogram, reference: Histogram | None) -> str:
    """Grouped bars per bin: the share of values now (blue) and in the reference (grey), on the same bins."""
    labels = (reference or now).labels()
    current, before = now.shares(), reference.shares() if reference else None
    width, height, bottom = 340, 130, 34
    step = (width - 10) / max(len(labels), 1)
    top = max([*current, *(before or ()), 0.01]) * 1.1
    y = lambda share: height - bottom - (height - bottom - 6) * share / top  # noqa: E731 (a scale, named once)
    parts = [f'<svg role="img" aria-label="histogram of {escape(name)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title>Share of {escape(name)}'
             f"'s values per bin, now{' and in the reference' if before else ''}</title>"]
    for index, label in enumerate(labels):
        x = 5 + index * step
        series = [(current[index], NOW_COLOUR, "now")]
        if before is not None:
            series.append((before[index], REFERENCE_COLOUR, "reference"))
        bar = step * 0.8 / len(series)
        for offset, (share, colour, what) in enumerate(series):
            parts.append(f'<rect x="{x + step * 0.1 + offset * bar:.1f}" y="{y(share):.1f}" width="{bar:.1f}" '
                         f'height="{max(y(0) - y(share), 0.5):.1f}" fill="{colour}"><title>{escape(label)} '
                         f"{what}: {share:.1%}</title></rect>")
        parts.append(f'<text x="{x + step / 2:.1f}" y="{height - bottom + 12}" font-size="9" text-anchor="middle" '
                     f'transform="rotate(25 {x + step / 2:.1f} {height - bottom + 12})">{escape(label[:14])}</text>')
    parts.append(f'<line x1="0" x2="{width}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#999"/></svg>')
    return "".join(parts)


def _describe(stats: FeatureStats) -> str:
    if stats.kind == "number" and stats.mean is not None:
        quantiles = dict(stats.quantiles)
        return (f"min {stats.minimum:.4g}, median {quantiles.get(0.5, float('nan')):.4g}, max {stats.maximum:.4g}; "
                f"mean {stats.mean:.4g} ± {stats.stddev or 0:.3g}")
    if stats.kind == "string":
        top = ", ".join(f"{escape(value)} {share:.0%}" for value, share in stats.top[:3])
        return f"{stats.distinct:,} distinct; {top}"
    if stats.kind == "bool" and stats.true_rate is not None:
        return f"true {stats.true_rate:.1%}"
    return f"{stats.count - stats.nulls:,} values"


def _feature_row(latest: SyncProfile, stats: FeatureStats) -> str:
    judged = latest.drift_of(stats.name)
    verdict = judged.verdict if judged else NO_REFERENCE
    css = "ok" if verdict == OK else ("none" if verdict == NO_REFERENCE else "crossed")
    if judged is not None and judged.reference_histogram is not None and stats.on_reference is not None:
        chart = histogram_chart(stats.name, stats.on_reference, judged.reference_histogram)
    elif stats.histogram is not None:
        chart = histogram_chart(stats.name, stats.histogram, None)
    else:
        chart = '<span class="none">no histogram for this type</span>'
    psi = "–" if judged is None or judged.psi is None else f"{judged.psi:.3f}"
    return (f"<tr><td><b>{escape(stats.name)}</b><br><small>{escape(stats.dtype)}</small><br>"
            f"<small>{_describe(stats)}</small></td><td>{_rate(stats.null_rate)}</td>"
            f"<td>{_rate(judged.reference_null_rate if judged else None)}</td><td>{psi}</td>"
            f'<td class="{css}">{escape(verdict)}</td><td>{chart}</td></tr>')


def _view_section(view: FeatureView, kept: ViewMonitoring | None, last_sync: datetime | None, now: datetime) -> str:
    head = f'<h2>{escape(view.name)}</h2>'
    facts = (f'<p class="summary">entity {escape(view.entity)} · owner {escape(view.owner)} · freshness target '
             f"{escape(format_duration(view.freshness))} · last sync "
             f"{escape(last_sync.isoformat() if last_sync else 'never')}</p>")
    latest = kept.latest if kept else None
    if kept is None or latest is None:
        return head + facts + '<p class="none">No statistics yet: run <code>python -m sync</code>.</p>'
    where = f" (the sync of {escape(latest.reference_synced_at)})" if latest.reference_synced_at else ""
    crossed = sum(1 for judged in latest.drift if judged.crossed) + len(latest.schema_changes)
    status = (f'<p class="crossed">{crossed} threshold(s) crossed or schema change(s)</p>' if crossed
              else '<p class="ok">Every feature within its thresholds.</p>')
    reference = (f"<p>Statistics of the sync of {escape(latest.synced_at)} over {latest.rows:,} entities, against "
                 f"<b>{escape(latest.reference)}</b>{where}: drift at PSI ≥ {latest.drift_threshold:g}, null rate "
                 f"up by more than {latest.null_rate_threshold:.0%}.</p>")
    changes = "".join(f"<li>{escape(change.describe())}</li>" for change in latest.schema_changes)
    schema = f"<h3>Schema changes at the last sync</h3>{f'<ul>{changes}</ul>' if changes else '<p>None.</p>'}"
    freshness = (f"<h3>Freshness over the last {len(kept.syncs)} sync(s)</h3>"
                 f"{freshness_chart(view, kept.syncs, last_sync, now)}")
    legend = (f'<p class="legend"><span style="background:{NOW_COLOUR}"></span>now'
              f'<span style="background:{REFERENCE_COLOUR}"></span>reference</p>')
    rows = "".join(_feature_row(latest, stats) for stats in latest.features)
    table = (f"<h3>Features</h3>{legend}<table><tr><th>feature</th><th>null now</th><th>null ref</th>"
             f"<th>drift (PSI)</th><th>verdict</th><th>histogram</th></tr>{rows}</table>")
    return head + facts + status + reference + freshness + schema + table


def render_page(
    registry: Registry, kept: Mapping[str, ViewMonitoring], last_syncs: Mapping[str, datetime | None], now: datetime
) -> str:
    index = "".join(f'<li><a href="#{escape(v.name)}">{escape(v.name)}</a></li>' for v in registry.views)
    sections = "".join(f'<section id="{escape(view.name)}">'
                       f"{_view_section(view, kept.get(view.name), last_syncs.get(view.name), now)}</section>"
                       for view in registry.views)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Feature monitoring</title>'
            f"<style>{STYLE}</style></head><body><h1>Feature monitoring</h1>"
            f'<p class="summary">As of {escape(now.isoformat())}. Statistics describe each view\'s latest row per '
            f"entity after each sync; drift is the population stability index against the view's reference "
            f'(README.md, "Monitoring"). <a href="/catalog">The feature catalog</a> · '
            f'<a href="/metrics">metrics</a></p><ul>{index}</ul>{sections}</body></html>')



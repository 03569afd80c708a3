"""Drift of a feature against its reference, and schema changes between two syncs.

Population stability index, on the reference's fixed bins:

    PSI = sum over bins i of (p_i - q_i) * ln(p_i / q_i)

where q_i is the reference's share of its non-null values in bin i and p_i the
current population's share in the same bin, each floored at 0.0001 so an empty
bin counts as a large shift instead of an infinite one. Numbers are binned at
the reference's deciles (value <= d1, d1 < value <= d2, ..., value > d9, ties
merged); strings at the reference's most frequent values plus one bin for every
other value; booleans at false and true. 0 means the same shares; by the usual
rule of thumb under 0.1 is stable, 0.1 to 0.25 a moderate shift, 0.25 and above
a significant one. Null rates are judged apart: the view's `null_rate_threshold`
is how much the null rate may rise above the reference's.
"""

from __future__ import annotations

import math

from feature_store.monitoring.profile import (
    DRIFT,
    NO_REFERENCE,
    NULL_RATE,
    OK,
    FeatureDrift,
    FeatureStats,
    Histogram,
    SchemaChange,
)

SHARE_FLOOR = 0.0001


def psi(current: Histogram, reference: Histogram) -> float:
    """The population stability index of `current` against `reference`, two histograms on the same bins."""
    if len(current.counts) != len(reference.counts):
        raise ValueError(f"histograms on different bins: {len(current.counts)} and {len(reference.counts)} bins")
    total = 0.0
    for p, q in zip(current.shares(), reference.shares(), strict=True):
        p, q = max(p, SHARE_FLOOR), max(q, SHARE_FLOOR)
        total += (p - q) * math.log(p / q)
    return total


def judge(
    current: FeatureStats, reference: FeatureStats | None, drift_threshold: float, null_rate_threshold: float
) -> FeatureDrift:
    """The feature's drift and verdict; `current.on_reference` holds it on the reference's bins."""
    if reference is None or reference.dtype != current.dtype:
        return FeatureDrift(current.name, current.null_rate, None, None, NO_REFERENCE)
    score = None
    if current.on_reference is not None and reference.histogram is not None and reference.histogram.total:
        score = psi(current.on_reference, reference.histogram) if current.on_reference.total else None
    crossed = []
    if score is not None and score >= drift_threshold:
        crossed.append(DRIFT)
    if current.null_rate - reference.null_rate > null_rate_threshold:
        crossed.append(NULL_RATE)
    return FeatureDrift(current.name, current.null_rate, reference.null_rate, score, ", ".join(crossed) or OK,
                        reference.histogram if current.on_reference is not None else None)


def schema_changes(before: dict[str, str] | None, after: dict[str, str]) -> tuple[SchemaChange, ...]:
    """Features added, removed or retyped from `before` (name -> dtype; None: no sync before) to `after`."""
    if before is None:
        return ()
    changes = [SchemaChange(name, "added", after=dtype) for name, dtype in after.items() if name not in before]
    changes += [SchemaChange(name, "removed", before=dtype) for name, dtype in before.items() if name not in after]
    changes += [SchemaChange(name, "retyped", before[name], dtype) for name, dtype in after.items()
                if name in before and before[name] != dtype]
    return tuple(changes)

"""A view's `monitor:` meta: its drift reference and thresholds, parsed, published, and refused with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_store.registry.manifest import registry_from_manifest
from feature_store.registry.model import Monitoring, Registry
from tests.registry.test_registry import manifest, refusal, stats_view


def training_set() -> dict:
    return {"resource_type": "model", "name": "recommender_training_set", "description": "A training set.",
            "config": {"location": "data/training/recommender_training_set.parquet", "meta": {}}, "columns": {}}


def test_a_training_set_reference_and_thresholds_are_parsed_and_round_trip() -> None:
    document = manifest(stats_view(monitor={"reference": {"model": "recommender_training_set"},
                                            "drift_threshold": 0.2, "null_rate_threshold": 0.05}), training_set())
    registry = registry_from_manifest(document, Path("/project"))
    monitoring = registry.view("user_stats").monitoring
    assert monitoring == Monitoring("model", "recommender_training_set",
                                    "/project/data/training/recommender_training_set.parquet", 0.2, 0.05)
    assert Registry.from_json(registry.to_json()).view("user_stats").monitoring == monitoring


def test_without_monitor_a_view_is_compared_with_its_previous_sync() -> None:
    registry = registry_from_manifest(manifest(stats_view()), Path("/project"))
    assert registry.view("user_stats").monitoring.reference == "sync:previous"


@pytest.mark.parametrize(("monitor", "problem", "fix"), [
    ({"reference": {"model": "nope"}}, "names 'nope', which is no model of the project",
     "one of: recommender_training_set"),
    ({"reference": {"sync": "last_week"}}, "`monitor.reference.sync` is 'last_week'", "{sync: baseline}"),
    ({"reference": "recommender_training_set"}, "`monitor.reference` is 'recommender_training_set'",
     "reference: {model: <a training set model>}"),
    ({"drift_threshold": -1}, "`monitor.drift_threshold` is -1", "a number above 0"),
    ({"null_rate_threshold": 2}, "`monitor.null_rate_threshold` is 2", "at most 1"),
    ({"drift": 0.2}, "unknown key(s) drift", "use only reference, drift_threshold, null_rate_threshold"),
    ("yes", "meta `monitor` is 'yes', not a mapping", "monitor: {reference:"),
])
def test_a_bad_monitor_meta_is_refused_with_its_fix(monitor, problem, fix) -> None:
    message = refusal(manifest(stats_view(monitor=monitor), training_set()))
    assert "model 'user_stats'" in message and problem in message and fix in message, message

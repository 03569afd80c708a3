"""The feature registry: entities, feature views and features.

`model` is the registry itself and its JSON (all the API needs); `manifest`
builds it from dbt's manifest.json and checks the contract (only the sync
needs it); `dtypes`, `durations`, `freshness` and `templates` are the rules
both sides apply.
"""

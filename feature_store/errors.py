"""Errors the feature store reports to users: each says what happened and what to do."""

from __future__ import annotations


class FeatureStoreError(Exception):
    """Base class: a problem the user can fix, reported without a stack trace."""


class DefinitionError(FeatureStoreError):
    """A feature definition (dbt YAML/SQL) breaks the contract."""

    def __init__(self, model: str, problem: str, fix: str, column: str | None = None) -> None:
        self.model = model
        self.column = column
        self.problem = problem
        self.fix = fix
        where = f"model '{model}'" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {problem}. Fix: {fix}")


class DefinitionErrors(FeatureStoreError):
    """Every contract violation found in one pass, so users fix them all at once."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  - {error}" for error in errors)
        super().__init__(f"{len(errors)} invalid feature definition(s); nothing was synced:\n{lines}")


class ManifestNotFound(FeatureStoreError):
    """No dbt manifest where the registry expects one."""


class RedisUnavailable(FeatureStoreError):
    """Redis cannot be reached or refused a command."""


class UnsafeRedis(FeatureStoreError):
    """A Redis the sync must not write to (it may evict keys): a setting to change, not a retry."""

"""The registry as the API caches it: published JSON, parsed once, with lookups built for reads.

A served registry is immutable; the store swaps in a new one when the sync publishes
(the version key changes), so a request works against one consistent registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.answers.context import ContextTemplate
from api.answers.dtype_decoders import Decoder, decoder_for
from api.core.errors import InvalidSelection, UnknownEntity, UnknownFeatures, UnsupportedEntity
from feature_store.clock import parse_timestamp
from feature_store.online import keys
from feature_store.registry.freshness import is_stale
from feature_store.registry.model import Entity, FeatureView, Registry


@dataclass(frozen=True)
class SyncReport:
    """A view's sync report as the sync published it; `last_sync_at` None when never synced."""

    last_sync_at: datetime | None
    published: Mapping[str, str]

    @classmethod
    def from_hash(cls, fields: Mapping[str, str]) -> SyncReport:
        text = fields.get("last_sync_at")
        try:
            last_sync_at = parse_timestamp(text) if text else None
        except ValueError:
            last_sync_at = None  # unreadable: judged as never synced, so stale
        return cls(last_sync_at, dict(fields))


@dataclass(frozen=True)
class SelectedView:
    """One view's part of a selection: where its event timestamp lives and which features to decode."""

    view: FeatureView
    timestamp_field: str
    features: tuple[tuple[str, str, Decoder], ...]  # (name, dtype, decoder)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.view.name)  # read per entity: a plain attribute, no property call


@dataclass(frozen=True)
class Selection:
    """The features a request asked for, grouped by the views that hold them."""

    entity: Entity
    feature_names: tuple[str, ...]
    views: tuple[SelectedView, ...]


class ServedRegistry:
    def __init__(
        self,
        version: str | None,
        published: dict[str, Any],
        reports: Mapping[str, SyncReport],
    ) -> None:
        self.version = version
        self.published = published
        self.registry = Registry.from_dict(published)
        never = SyncReport(None, {})
        self.reports = {view.name: reports.get(view.name, never) for view in self.registry.views}
        self._all = {
            entity.name: self._select(entity, None)
            for entity in self.registry.entities
            if len(entity.join_keys) == 1
        }
        self.contexts = {
            entity.name: ContextTemplate.for_entity(entity, self.registry)
            for entity in self.registry.entities
        }

    @property
    def entity_names(self) -> tuple[str, ...]:
        return tuple(entity.name for entity in self.registry.entities)

    def last_sync_at(self, view: str) -> datetime | None:
        return self.reports[view].last_sync_at

    def is_stale(self, view: str, now: datetime) -> bool:
        return is_stale(self.registry.view(view), self.last_sync_at(view), now)

    def select(self, entity: str, names: Sequence[str] | None) -> Selection:
        """The selection for `names` (every feature of the entity when None); 400s for bad names."""
        if not self.registry.has_entity(entity):
            raise UnknownEntity(entity, self.entity_names)
        if names is None and entity in self._all:
            return self._all[entity]
        return self._select(self.registry.entity(entity), names)

    def _select(self, entity: Entity, names: Sequence[str] | None) -> Selection:
        if len(entity.join_keys) > 1:
            raise UnsupportedEntity(
                f"entity {entity.name!r} has a composite key ({', '.join(entity.join_keys)}), "
                "which the API does not serve yet"
            )
        known = self.registry.features_of(entity.name)
        if names is None:
            wanted = tuple(known)
        else:
            wanted = tuple(dict.fromkeys(names))
            if not wanted:
                raise InvalidSelection(
                    "the feature selection is empty: name at least one feature, "
                    "or leave it out to get every feature"
                )
            unknown = [name for name in wanted if name not in known]
            if unknown:
                raise UnknownFeatures(entity.name, unknown, known)
        views = []
        for view in self.registry.views_of(entity.name):
            chosen = tuple((f.name, f.dtype, decoder_for(f.dtype)) for f in view.features if f.name in wanted)
            if chosen:
                views.append(SelectedView(view, keys.timestamp_field(view.name), chosen))
        return Selection(entity, wanted, tuple(views))

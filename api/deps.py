"""What the routes depend on, declared once as `Annotated` types: the online store, the settings,
the entity path parameter. Routes name these instead of reading `request.app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from api.core.config import Settings
from api.reader.store import OnlineStore


def online_store(request: Request) -> OnlineStore:
    """The app's reader of the online store, opened by its lifespan."""
    return request.app.state.store


def settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[OnlineStore, Depends(online_store)]
SettingsDep = Annotated[Settings, Depends(settings)]
EntityParam = Annotated[str, Path(description="The entity type, e.g. `user`.", examples=["user"])]
EntityIdParam = Annotated[str, Path(alias="id", description="The entity's id (its join key value).", examples=["42"])]

"""The MCP tools: the same answers as the HTTP endpoints, through the same functions.

Each tool calls what the HTTP route calls (api.answers), so its inputs are checked
the same way; an ApiError becomes a tool error (`is_error`) with the same message,
for the model to read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from api.answers.entities import context_answer, features_answer
from api.answers.registry import catalog_document
from api.core.errors import ApiError
from api.reader.store import OnlineStore

NAME = "feature-store"
INSTRUCTIONS = (
    "Online features of entities (e.g. a user), read from the feature store. Start with list_features to see "
    "the entities, their features and how fresh each view is; get_context gives an entity's features as "
    "prompt text that says what is unknown and how old stale values are."
)

EntityArg = Annotated[str, Field(description="The entity type, e.g. `user` (see list_features).")]
IdArg = Annotated[str | int, Field(description="The entity's id (its join key value), e.g. 42.")]


def build_server(current: Callable[[], OnlineStore]) -> MCPServer:
    """The MCP server; `current` gives the online store a call reads (the app's, or the stdio process's)."""
    server = MCPServer(NAME, instructions=INSTRUCTIONS, version="1.0.0", log_level="WARNING")

    @server.tool(description=(
        "Entities and their features: each feature's dtype and description, each view's owner, description, "
        "freshness (how often it should sync), ttl, last sync time and whether it is stale now."
    ))
    async def list_features(
        entity: Annotated[str | None, Field(description="Only this entity; every entity when left out.")] = None,
    ) -> dict[str, Any]:
        online = current()
        return await _answer(_catalog(online, entity))

    @server.tool(description=(
        "An entity's online features, decoded to their dtypes, with each view's status (fresh, stale, expired, "
        "missing) and event timestamp. A feature whose view is missing or expired is null."
    ))
    async def get_features(
        entity: EntityArg,
        id: IdArg,
        features: Annotated[
            list[str] | None, Field(description="Feature names; every feature of the entity when left out.")
        ] = None,
    ) -> dict[str, Any]:
        online = current()
        selection = None if features is None else ",".join(features)
        return await _answer(_loads(features_answer(online, entity, str(id), selection)))

    @server.tool(description=(
        "An entity's features as prompt text (`context`, from the template declared with the entity), with "
        "every value beside it with its status and timestamp (`values`). The text names unknown features and "
        "gives the age of stale ones."
    ))
    async def get_context(entity: EntityArg, id: IdArg) -> dict[str, Any]:
        online = current()
        return await _answer(_loads(context_answer(online, entity, str(id))))

    return server


async def _catalog(store: OnlineStore, entity: str | None) -> dict[str, Any]:
    return catalog_document(await store.current_served_registry(), store.clock(), entity)


async def _loads(body: Awaitable[bytes]) -> dict[str, Any]:
    return orjson.loads(await body)


async def _answer(answer: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    try:
        return await answer
    except ApiError as error:
        raise ToolError(error.detail) from error

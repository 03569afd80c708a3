"""The MCP tools, called by the `mcp` SDK's own client: over HTTP at /mcp (API key and all) and over stdio."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.api.online import CONTEXT_DEMO, NOW, USER_PROFILE, USER_WATCH_STATS, OnlineWriter
from tests.api.test_server import PROJECT_DIR, start_api, stop_api

KEY = "mcp-test-key"
AS_OF = "2026-11-27T12:00:00Z"
TOOLS = {"list_features", "get_features", "get_context"}


@pytest.fixture
def published(redis_url: str) -> str:
    writer = OnlineWriter(redis_url)
    writer.publish(CONTEXT_DEMO)
    writer.write("user", 42, USER_PROFILE, {"country": "NL", "is_premium": True}, NOW)
    writer.write("user", 42, USER_WATCH_STATS, {"watch_count_30d": 12, "avg_minutes_30d": 40.0}, NOW)
    writer.close()
    return redis_url


@pytest.fixture
def api(published: str) -> Iterator[str]:
    process, base_url = start_api(published, "--as-of", AS_OF, API_KEY=KEY)
    try:
        yield base_url
    finally:
        stop_api(process)


def http_client(base_url: str, key: str | None = KEY) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Client(streamable_http_client(f"{base_url}/mcp", http_client=httpx2.AsyncClient(headers=headers)))


def stdio_client(redis_url: str) -> Client:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REDIS_URL": redis_url, "PYTHONPATH": str(PROJECT_DIR)}
    return Client(StdioServerParameters(command=sys.executable, args=["-m", "api", "mcp", "--as-of", AS_OF],
                                        env=env, cwd=str(PROJECT_DIR)))


async def exercise(client: Client) -> dict[str, Any]:
    """Every tool, called well and badly; what came back, by name."""
    async with client:
        tools = await client.list_tools()
        calls = {
            "catalog": await client.call_tool("list_features", {"entity": "user"}),
            "features": await client.call_tool("get_features", {"entity": "user", "id": 42,
                                                                "features": ["watch_count_30d", "country"]}),
            "context": await client.call_tool("get_context", {"entity": "user", "id": "42"}),
            "unknown_entity": await client.call_tool("get_features", {"entity": "usr", "id": 42}),
            "unknown_feature": await client.call_tool("get_features", {"entity": "user", "id": 42,
                                                                       "features": ["watch_count"]}),
            "invalid_id": await client.call_tool("get_context", {"entity": "user", "id": "4x"}),
            "not_found": await client.call_tool("get_context", {"entity": "user", "id": 99999}),
            "missing_argument": await client.call_tool("get_features", {"entity": "user"}),
        }
    return {"tools": {tool.name: tool for tool in tools.tools}, **calls}


def text(result: Any) -> str:
    return "".join(part.text for part in result.content)


def check(answers: dict[str, Any]) -> None:
    assert set(answers["tools"]) == TOOLS
    assert "entity" in answers["tools"]["get_context"].input_schema["properties"]

    catalog = answers["catalog"].structured_content
    views = {view["name"]: view for view in catalog["entities"]["user"]["views"]}
    assert views["user_watch_stats"]["owner"] == "growth" and views["user_watch_stats"]["freshness"] == "1h"
    assert views["user_watch_stats"]["stale"] is False
    assert {"name": "watch_count_30d", "dtype": "int64", "description": "About watch_count_30d."} in \
        views["user_watch_stats"]["features"]

    features = answers["features"].structured_content
    assert features["features"] == {"watch_count_30d": 12, "country": "NL"}
    assert features["views"]["user_watch_stats"]["status"] == "fresh"

    context = answers["context"].structured_content
    assert context["context"].startswith("User context: from NL, premium: yes, likes unknown, watched 12 titles")
    assert context["values"]["watch_count_30d"]["status"] == "fresh"

    # Bad inputs: tool errors, with the HTTP API's messages.
    for name, expected in (
        ("unknown_entity", "unknown entity 'usr'; valid entities: title, user"),
        ("unknown_feature", "has no feature 'watch_count'"),
        ("invalid_id", "invalid id"),
        ("not_found", "no user with id 99999 in the online store"),
        ("missing_argument", "id"),
    ):
        assert answers[name].is_error, name
        assert expected in text(answers[name]), (name, text(answers[name]))


def test_the_tools_over_http_with_the_api_key(api: str) -> None:
    check(asyncio.run(exercise(http_client(api))))


def test_mcp_over_http_wants_the_api_key(api: str) -> None:
    for key in (None, "wrong-key"):
        with pytest.raises(Exception) as refused:  # the SDK's client cannot even connect
            asyncio.run(exercise(http_client(api, key)))
        assert "Server returned an error response" in repr(refused.value)
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    missing = httpx2.post(f"{api}/mcp", json=request)
    wrong = httpx2.post(f"{api}/mcp", json=request, headers={"Authorization": "Bearer wrong-key"})
    assert (missing.status_code, missing.json()["detail"]) == (
        401, "this API wants a key: send `Authorization: Bearer <API_KEY>`")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "unauthorized")


def test_the_tools_over_stdio(published: str) -> None:
    check(asyncio.run(exercise(stdio_client(published))))

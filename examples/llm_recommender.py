"""Build the prompt an LLM recommender sends for "what should I watch next?", from the feature store's API.

    python examples/llm_recommender.py --user 42 [--url http://127.0.0.1:8000] [--via rest|mcp] [--message "..."]

It asks for the user's features rendered as text (the template lives with the
entity in dbt_project.yml), the REST way (GET /context/user/{id}) or the MCP way
(the `get_context` tool at /mcp, as an agent would call it), and prints the full
prompt. Both give the same answer. No LLM is called: send the printed messages to
the model of your choice. The text already names what is unknown and how old a
stale view's values are; the structured `values` beside it add a note per view that
is not current. `API_KEY` is sent as a bearer token when set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import httpx

SYSTEM = (
    "You are the recommendation assistant of a streaming service. Suggest three titles the subscriber is "
    "likely to enjoy next, one line each with a short reason drawn from their context. Do not invent facts "
    "about the subscriber beyond the context; where it says unknown, do not guess, and weigh old values less."
)
DEFAULT_MESSAGE = "What should I watch next?"
NEW_SUBSCRIBER = {"context": "User context: a new subscriber, nothing is known yet.", "views": {}}


def headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def fetch_context(url: str, user_id: str, api_key: str | None = None, timeout: float = 2.0) -> dict[str, Any]:
    """The REST way: GET /context/user/{id}."""
    response = httpx.get(f"{url.rstrip('/')}/context/user/{user_id}", headers=headers(api_key), timeout=timeout)
    if response.status_code == 404:
        return NEW_SUBSCRIBER
    response.raise_for_status()
    return response.json()


def fetch_context_mcp(url: str, user_id: str, api_key: str | None = None) -> dict[str, Any]:
    """The MCP way: the `get_context` tool at /mcp, with the `mcp` SDK's client."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def call() -> Any:
        transport = streamable_http_client(f"{url.rstrip('/')}/mcp",
                                           http_client=httpx2.AsyncClient(headers=headers(api_key)))
        async with Client(transport) as client:
            return await client.call_tool("get_context", {"entity": "user", "id": user_id})

    result = asyncio.run(call())
    if result.is_error:
        message = "".join(getattr(part, "text", "") for part in result.content)
        if "in the online store" in message:  # the tool's not-found message, as the REST 404 says it
            return NEW_SUBSCRIBER
        raise RuntimeError(message)
    return result.structured_content


def data_notes(views: dict[str, dict[str, Any]]) -> list[str]:
    """One line per view whose data is not current, so the model weighs it accordingly."""
    notes = []
    for view, state in sorted(views.items()):
        if state["status"] == "stale":
            notes.append(f"{view} was last updated later than planned (as of {state['event_timestamp']}).")
        elif state["status"] == "expired":
            notes.append(f"{view} is too old to use and is left out.")
    return notes


def build_prompt(context: dict[str, Any], message: str = DEFAULT_MESSAGE) -> list[dict[str, str]]:
    """Chat messages: the instructions, the subscriber's context (with any data notes), the question."""
    lines = [context["context"]]
    notes = data_notes(context.get("views", {}))
    if notes:
        lines.append("Data notes: " + " ".join(notes))
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "system", "content": "\n".join(lines)},
        {"role": "user", "content": message},
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", required=True, help="the subscriber's id")
    parser.add_argument("--url", default=os.environ.get("FEATURE_API_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--via", choices=["rest", "mcp"], default="rest",
                        help="GET /context (rest, the default) or the get_context tool at /mcp (mcp)")
    parser.add_argument("--message", default=DEFAULT_MESSAGE, help="what the subscriber asked")
    args = parser.parse_args(argv)
    api_key = os.environ.get("API_KEY")
    try:
        if args.via == "mcp":
            context = fetch_context_mcp(args.url, args.user, api_key)
        else:
            context = fetch_context(args.url, args.user, api_key)
    except Exception as error:  # whatever failed (HTTP, MCP), the reader is told how to start the API
        print(f"error: the feature API at {args.url} did not answer ({error!r}); start it with `make api`",
              file=sys.stderr)
        return 1
    for message in build_prompt(context, args.message):
        print(f"[{message['role']}]\n{message['content']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the prompt an LLM recommender sends for "what should I watch next?", from the feature store's API.

    python examples/llm_recommender.py --user 42 [--url http://127.0.0.1:8000] [--message "..."]

It asks GET /context/user/{id} for the user's features rendered as text (the
template lives with the entity in dbt_project.yml) and prints the full prompt.
No LLM is called: send the printed messages to the model of your choice. A view
the API reports as stale or expired is said so in the prompt, so the model does
not treat old behaviour as current. `API_KEY` is sent as a bearer token when set.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx

SYSTEM = (
    "You are the recommendation assistant of a streaming service. Suggest three titles the subscriber is "
    "likely to enjoy next, one line each with a short reason drawn from their context. Do not invent facts "
    "about the subscriber beyond the context; where it says unknown, do not guess."
)
DEFAULT_MESSAGE = "What should I watch next?"


def fetch_context(url: str, user_id: str, api_key: str | None = None, timeout: float = 2.0) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = httpx.get(f"{url.rstrip('/')}/context/user/{user_id}", headers=headers, timeout=timeout)
    if response.status_code == 404:
        return {"context": "User context: a new subscriber, nothing is known yet.", "views": {}}
    response.raise_for_status()
    return response.json()


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
    parser.add_argument("--message", default=DEFAULT_MESSAGE, help="what the subscriber asked")
    args = parser.parse_args(argv)
    try:
        context = fetch_context(args.url, args.user, os.environ.get("API_KEY"))
    except httpx.HTTPError as error:
        print(f"error: the feature API at {args.url} did not answer ({error}); start it with `make api`",
              file=sys.stderr)
        return 1
    for message in build_prompt(context, args.message):
        print(f"[{message['role']}]\n{message['content']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

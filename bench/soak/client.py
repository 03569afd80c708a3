"""HTTP clients of the soak test, each its own process: the row checker, and a load loop where wrk is missing.

    python -m bench.soak.client --url http://127.0.0.1:PORT --entities N --seconds S --work DIR [--load]

The checker reads entities through the API (single GETs and batches) and holds
every view's row to the generator's invariant: all its features and its event
time name the same version. Half its reads go to the ids the running round is
rewriting (read from DIR/round), where a half-written row would show. With
`--load` it only counts answers, as fast as `--concurrency` connections allow.
Either prints one JSON line of counts at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.soak.generate import VIEWS, changed_ids, event_time, expected_row, version_of

BATCH_SIZE = 50
BATCH_SHARE = 0.1


def row_problems(entity_id: int, answer: dict[str, Any]) -> list[str]:
    """What breaks the invariant in one entity's answer (`features` and `views`), per view; empty when whole."""
    problems = []
    for view, (_, _, features) in VIEWS.items():
        status = answer["views"][view]
        values = {name: answer["features"][name] for name in features}
        if status["status"] != "fresh" and status["status"] != "stale":
            problems.append(f"{view}: status {status['status']}")
            continue
        version = version_of(view, values)
        if values != expected_row(view, entity_id, version):
            problems.append(f"{view}: {values} mixes versions (expected {expected_row(view, entity_id, version)})")
        elif status["event_timestamp"] != event_time(version):
            problems.append(f"{view}: values of version {version} with event time {status['event_timestamp']}")
    return problems


class Counts:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.socket_errors = 0
        self.rows_checked = 0
        self.mixed_rows = 0
        self.examples: list[str] = []

    def mixed(self, entity_id: int, problems: list[str]) -> None:
        self.mixed_rows += 1
        if len(self.examples) < 5:
            self.examples.append(f"user {entity_id}: {'; '.join(problems)}")


def current_round(work: Path) -> tuple[int, int] | None:
    """(version, step) of the round the soak is syncing now, from the file it writes before each sync."""
    try:
        version, step = (int(part) for part in (work / "round").read_text().split())
    except (OSError, ValueError):
        return None
    return version, step


def pick_ids(rng: random.Random, entities: int, work: Path, count: int, verify: bool) -> list[int]:
    now = current_round(work) if verify else None
    if now is not None and rng.random() < 0.5:
        changing = changed_ids(entities, *now)
        return [changing[rng.randrange(len(changing))] for _ in range(count)]
    return [rng.randrange(entities) for _ in range(count)]


async def worker(client: httpx.AsyncClient, args: argparse.Namespace, seed: int, counts: Counts) -> None:
    rng = random.Random(seed)
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        batch = rng.random() < BATCH_SHARE
        ids = pick_ids(rng, args.entities, args.work, BATCH_SIZE if batch else 1, args.verify)
        try:
            if batch:
                response = await client.post("/features/user", json={"ids": ids})
            else:
                response = await client.get(f"/features/user/{ids[0]}")
        except httpx.HTTPError:
            counts.socket_errors += 1
            continue
        counts.statuses[response.status_code] += 1
        if response.status_code != 200 or not args.verify:
            continue
        body = orjson.loads(response.content)
        for entity_id, answer in zip(ids, body["results"] if batch else [body], strict=True):
            counts.rows_checked += len(VIEWS)
            problems = row_problems(entity_id, answer)
            if problems:
                counts.mixed(entity_id, problems)


async def run(args: argparse.Namespace) -> Counts:
    counts = Counts()
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=10.0) as client:
        await asyncio.gather(*(worker(client, args, seed, counts) for seed in range(args.concurrency)))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--entities", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--work", type=Path, required=True, help="the soak's folder, where it writes `round`")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--load", dest="verify", action="store_false", help="count answers only, no checks")
    args = parser.parse_args()
    if not args.url.startswith("http://127.0.0.1:"):
        raise SystemExit("the soak test sends traffic to 127.0.0.1 only")
    counts = asyncio.run(run(args))
    print(json.dumps({
        "requests": sum(counts.statuses.values()), "statuses": {str(k): v for k, v in counts.statuses.items()},
        "socket_errors": counts.socket_errors, "rows_checked": counts.rows_checked,
        "mixed_rows": counts.mixed_rows, "examples": counts.examples,
    }))


if __name__ == "__main__":
    main()

"""Simulated subscribers watching titles: each watch is pushed as a `user_last_genre` row, live.

    python examples/push_producer.py [--url http://127.0.0.1:8000] [--users 3000] [--watches 20]
                                     [--rate 5] [--batch 1] [--seed 0]

Every watch picks a subscriber and a title of the demo's catalogue (seeds/titles.csv) and sends
`POST /push/user_last_genre` with its genre, title and the time of the watch. The API answers once
the row is in the view's durable push log, and `/features/user/{id}` or `/context/user/{id}` show
the new genre at once; the next `dbt build` holds the row too, so training sees it. `API_KEY` is
sent as a bearer token when set.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

TITLES = Path(__file__).resolve().parent.parent / "seeds" / "titles.csv"
VIEW = "user_last_genre"


def catalogue(path: Path = TITLES) -> list[tuple[int, str]]:
    with path.open() as handle:
        return [(int(title["title_id"]), title["genre"]) for title in csv.DictReader(handle)]


def watch(rng: random.Random, users: int, titles: list[tuple[int, str]]) -> dict[str, Any]:
    title_id, genre = rng.choice(titles)
    return {"user_id": rng.randint(1, users), "event_timestamp": datetime.now(UTC).isoformat(),
            "last_genre": genre, "last_title_id": title_id}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=3000, help="subscribers 1..N (the demo has 3000)")
    parser.add_argument("--watches", type=int, default=20, help="watch events to push (default 20)")
    parser.add_argument("--rate", type=float, default=5.0, help="pushes per second (default 5)")
    parser.add_argument("--batch", type=int, default=1, help="rows per push (default 1)")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable run")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    titles = catalogue()
    key = os.environ.get("API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=5.0) as client:
        sent = 0
        while sent < args.watches:
            rows = [watch(rng, args.users, titles) for _ in range(min(args.batch, args.watches - sent))]
            answer = client.post(f"/push/{VIEW}", json=rows)
            if answer.status_code != 200:
                print(f"push refused ({answer.status_code}): {answer.text}", file=sys.stderr)
                return 1
            for pushed in rows:
                served = client.get(f"/features/user/{pushed['user_id']}", params={"features": "last_genre"})
                print(f"user {pushed['user_id']} watched title {pushed['last_title_id']} ({pushed['last_genre']}); "
                      f"served now: {served.json()['features']['last_genre']}", flush=True)
            sent += len(rows)
            time.sleep(1 / args.rate if args.rate > 0 else 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

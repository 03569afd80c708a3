"""Generate the streaming-service demo seeds (users, titles, watch events).

The output is deterministic (fixed random seed) and committed under `seeds/`, so
every clone builds the same history. Run it again only to change the demo:

    python scripts/generate_demo_seeds.py --out seeds
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

GENRES = (
    "action", "animation", "comedy", "crime", "documentary", "drama",
    "fantasy", "horror", "romance", "science_fiction", "thriller", "western",
)
PLANS = (("basic", 0.45), ("standard", 0.35), ("premium", 0.20))
COUNTRIES = (("US", 0.4), ("GB", 0.15), ("DE", 0.15), ("FR", 0.1), ("BR", 0.1), ("IN", 0.1))
# (share of users, titles watched per active day): heavy to rare viewers.
ACTIVITY_LEVELS = ((0.05, 1.2), (0.25, 0.3), (0.50, 0.08), (0.20, 0.01))

HISTORY_START = datetime(2026, 3, 1)
HISTORY_END = datetime(2026, 9, 1)
SIGNUP_START = datetime(2026, 1, 1)


def weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def generate(out: Path, users: int, titles: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)

    title_rows = []
    for title_id in range(1, titles + 1):
        genre = rng.choice(GENRES)
        runtime = rng.choice((22, 25, 30, 45, 50, 60, 90, 100, 110, 120, 135, 150))
        title_rows.append((title_id, f"Title {title_id:04d}", genre, runtime, rng.randint(1970, 2026)))
    titles_by_genre: dict[str, list[tuple]] = {g: [] for g in GENRES}
    for row in title_rows:
        titles_by_genre[row[2]].append(row)

    user_rows = []
    event_rows = []
    event_id = 0
    span = (HISTORY_END - SIGNUP_START).total_seconds()
    for user_id in range(1, users + 1):
        signup = SIGNUP_START + timedelta(seconds=rng.uniform(0, span * 0.9))
        signup = signup.replace(microsecond=0)
        user_rows.append((user_id, signup.isoformat(sep=" "), weighted(rng, PLANS), weighted(rng, COUNTRIES)))

        rate = rng.choices([r for _, r in ACTIVITY_LEVELS], weights=[s for s, _ in ACTIVITY_LEVELS])[0]
        rate *= rng.uniform(0.5, 1.5)
        favourites = rng.sample(GENRES, 3)
        start = max(signup, HISTORY_START)
        # A third of users churn: they stop watching at some point.
        end = HISTORY_END
        if rng.random() < 0.33:
            end = start + (HISTORY_END - start) * rng.uniform(0.1, 0.9)
        moment = start
        last_event: tuple | None = None
        while True:
            moment += timedelta(days=rng.expovariate(rate))
            if moment >= end:
                break
            genre = rng.choice(favourites) if rng.random() < 0.7 else rng.choice(GENRES)
            title = rng.choice(titles_by_genre[genre])
            watched_at = moment.replace(microsecond=0)
            # A few events share a timestamp with the user's previous one (two
            # devices, one second): the features must break such ties the same way.
            if last_event is not None and rng.random() < 0.01:
                watched_at = last_event[3]
            loaded_at = watched_at + timedelta(seconds=rng.randint(5, 900))
            runtime = title[3]
            minutes = max(1, min(runtime, int(rng.triangular(1, runtime, runtime * 0.9))))
            event_id += 1
            last_event = (event_id, user_id, title[0], watched_at, loaded_at, minutes)
            event_rows.append(last_event)

    event_rows.sort(key=lambda r: (r[3], r[0]))
    _write(out / "users.csv", ("user_id", "signed_up_at", "plan", "country"), user_rows)
    title_header = ("title_id", "title_name", "genre", "runtime_minutes", "release_year")
    _write(out / "titles.csv", title_header, title_rows)
    _write(
        out / "watch_events.csv",
        ("event_id", "user_id", "title_id", "watched_at", "loaded_at", "minutes_watched"),
        [(e[0], e[1], e[2], e[3].isoformat(sep=" "), e[4].isoformat(sep=" "), e[5]) for e in event_rows],
    )
    return {"users": len(user_rows), "titles": len(title_rows), "watch_events": len(event_rows)}


def _write(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "seeds")
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--titles", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20260301)
    args = parser.parse_args()
    counts = generate(args.out, args.users, args.titles, args.seed)
    print(", ".join(f"{name}: {count}" for name, count in counts.items()))


if __name__ == "__main__":
    main()

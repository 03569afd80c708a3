"""examples/llm_recommender.py: the prompt it builds, and the script against a running API."""

from __future__ import annotations

import subprocess
import sys

from examples.llm_recommender import build_prompt
from tests.api.online import CONTEXT_DEMO, NOW, USER_PROFILE, USER_WATCH_STATS, OnlineWriter
from tests.api.test_server import PROJECT_DIR, start_api, stop_api


def test_the_prompt_holds_the_context_the_question_and_notes_on_old_data() -> None:
    context = {
        "context": "User context: segment=regular.",
        "views": {
            "user_segment": {"event_timestamp": "2026-11-27T00:00:00Z", "status": "fresh"},
            "user_watch_stats": {"event_timestamp": "2026-11-26T21:00:00Z", "status": "stale"},
            "user_last_genre": {"event_timestamp": "2026-09-01T00:00:00Z", "status": "expired"},
        },
    }

    system, facts, question = build_prompt(context, "Something short tonight?")

    assert system["role"] == "system" and "three titles" in system["content"]
    assert facts["content"].startswith("User context: segment=regular.\nData notes: ")
    assert "user_last_genre is too old" in facts["content"]
    assert "user_watch_stats was last updated later than planned" in facts["content"]
    assert "user_segment" not in facts["content"]
    assert question == {"role": "user", "content": "Something short tonight?"}


def test_the_script_prints_the_prompt_from_a_running_api(redis_url: str) -> None:
    writer = OnlineWriter(redis_url)
    writer.publish(CONTEXT_DEMO)
    writer.write("user", 42, USER_PROFILE, {"country": "NL", "is_premium": True}, NOW)
    writer.write("user", 42, USER_WATCH_STATS, {"watch_count_30d": 12, "avg_minutes_30d": 40.0}, NOW)
    writer.close()
    process, base_url = start_api(redis_url, "--as-of", "2026-11-27T12:00:00Z", API_KEY="example-key")
    try:
        results = {
            (via, user): subprocess.run(
                [sys.executable, "examples/llm_recommender.py", "--user", user, "--url", base_url, "--via", via],
                cwd=PROJECT_DIR, capture_output=True, text=True, timeout=30,
                env={"API_KEY": "example-key", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_DIR)},
            )
            for via in ("rest", "mcp") for user in ("42", "7")
        }
    finally:
        stop_api(process)

    for asked, result in results.items():
        assert result.returncode == 0, (asked, result.stderr)
        assert "[user]\nWhat should I watch next?" in result.stdout
    assert results["rest", "42"].stdout == results["mcp", "42"].stdout  # the two ways give one answer
    assert results["rest", "7"].stdout == results["mcp", "7"].stdout
    assert "User context: from NL, premium: yes, likes unknown, watched 12 titles in last 30 days (40.0 min each)." \
        in results["mcp", "42"].stdout
    assert "a new subscriber, nothing is known yet" in results["mcp", "7"].stdout

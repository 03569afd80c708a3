"""Push fixtures: a private built project, synced into the session's Redis, with the API running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BuiltProject
from tests.push.stack import Stack, api_process
from tests.sync_cli import synced


@pytest.fixture
def stack(project: BuiltProject, redis_url: str) -> Iterator[Stack]:
    synced(project, redis_url)
    with api_process(redis_url) as (_, url):
        yield Stack(project, redis_url, url)

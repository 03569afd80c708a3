"""`python -m api` over real HTTP on a Redis Cluster answers exactly as on one Redis server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.core.config import Settings
from feature_store.online.embedded.cluster import EmbeddedCluster
from feature_store.online.reader.cluster_pipe import ClusterPipe
from feature_store.online.reader.pipe import RedisPipe
from tests.api.conftest import serve, store_of
from tests.api.test_server import start_api, stop_api
from tests.cluster.conftest import synced
from tests.conftest import BuiltProject

USERS = [*range(1, 401), 999_999]  # keys on every master, and one that does not exist


@pytest.fixture
def both_apis(project: BuiltProject, cluster_url: str, redis_url: str) -> Iterator[tuple[str, str]]:
    """The same project synced into the cluster and into one server, each behind `python -m api`."""
    synced(project, cluster_url)
    synced(project, redis_url)
    as_of = project.demo_now.isoformat()
    on_cluster, cluster_base = start_api(cluster_url, "--as-of", as_of)
    try:
        single, single_base = start_api(redis_url, "--as-of", as_of)
        try:
            yield cluster_base, single_base
        finally:
            stop_api(single)
    finally:
        stop_api(on_cluster)


def test_single_and_batch_reads_equal_the_single_server_answers(both_apis: tuple[str, str],
                                                               cluster: EmbeddedCluster) -> None:
    cluster_base, single_base = both_apis
    with httpx.Client(timeout=10) as http:
        for user in (1, 42, 2999, 999_999):
            on_cluster = http.get(f"{cluster_base}/features/user/{user}")
            assert on_cluster.status_code in (200, 404)
            assert on_cluster.json() == http.get(f"{single_base}/features/user/{user}").json()
        body = {"ids": USERS}
        on_cluster = http.post(f"{cluster_base}/features/user", json=body)
        assert on_cluster.status_code == 200, on_cluster.text
        assert on_cluster.json() == http.post(f"{single_base}/features/user", json=body).json()
        assert [result["id"] for result in on_cluster.json()["results"]] == USERS  # request order kept
        feast = {"features": ["user_segment:user_segment", "user_watch_stats:watch_count_30d"],
                 "entities": {"user_id": USERS[:50]}}
        feast_on_cluster = http.post(f"{cluster_base}/get-online-features", json=feast)
        assert feast_on_cluster.status_code == 200, feast_on_cluster.text
        assert feast_on_cluster.json() == http.post(f"{single_base}/get-online-features", json=feast).json()
        for path in ("/registry", "/ready", "/context/user/42"):
            assert http.get(f"{cluster_base}{path}").status_code == 200, path


@pytest.mark.anyio
async def test_a_batch_costs_one_round_trip_per_node(project: BuiltProject, cluster_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    synced(project, cluster_url)
    settings = Settings(redis_url=cluster_url, as_of=project.demo_now.isoformat())
    async with serve(settings) as client:
        pipe = store_of(client).pipe
        assert isinstance(pipe, ClusterPipe)  # detected from INFO cluster
        assert (await client.get("/features/user/1")).status_code == 200  # slot map and connections ready
        trips: list[RedisPipe] = []
        real = RedisPipe.execute_packed

        async def counted(node: RedisPipe, *args, **kwargs):
            trips.append(node)
            return await real(node, *args, **kwargs)

        monkeypatch.setattr(RedisPipe, "execute_packed", counted)
        response = await client.post("/features/user", json={"ids": USERS})
        assert response.status_code == 200
        by_node = {address: trips.count(node) for address, node in pipe._pipes.items()}
        assert sorted(by_node.values()) == [1, 1, 1], by_node  # one round trip to each of the 3 masters

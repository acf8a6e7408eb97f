"""The reference client's scenarios, against real test nodes (the
``cluster-testnodes`` binary) through the C library. Fault injection is the
test nodes' own (``fault``, ``down``, ... commands on their stdin)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import cluster_client
from cluster_client import (
    ClientClosedError,
    ClusterClient,
    GroupOperationException,
    InvalidInput,
    RequestErrorException,
)
from cluster_client import aio

from conftest import FAST, TestNodes


def test_create_group_success(client: ClusterClient, nodes: TestNodes) -> None:
    assert client.create_group("g1") is not False
    assert client.create_group("g1") == True  # noqa: E712 - the bool contract
    assert client.last_error is None
    assert nodes.holders("g1") == [0, 1, 2]
    assert all(client.verify_group(h, "g1") for h in nodes.hosts)
    assert client.verify_group_everywhere("g1") == {h: True for h in nodes.hosts}


def test_node_failing_returns_false_and_no_node_keeps_the_group(
    client: ClusterClient, nodes: TestNodes, caplog: pytest.LogCaptureFixture
) -> None:
    nodes.command("fault 2 POST 500 10")
    with caplog.at_level(logging.ERROR, logger="cluster_client"):
        assert not client.create_group("g2")
    e = client.last_error
    assert isinstance(e, GroupOperationException)
    assert e.failed_hosts == [nodes.hosts[2]]
    assert e.rollback_failed_hosts == [] and e.possible_orphans == []
    assert nodes.holders("g2") == []
    assert any("g2" in r.getMessage() for r in caplog.records)


def test_rollback_failure_is_reported(client: ClusterClient, nodes: TestNodes) -> None:
    nodes.command("fault 2 POST 500 10")
    nodes.command("fault 0 DELETE 500 100")
    with pytest.raises(GroupOperationException) as info:
        client.create_group_or_raise("g3")
    e = info.value
    assert e.failed_hosts == [nodes.hosts[2]]
    assert e.rollback_failed_hosts == [nodes.hosts[0]]
    assert nodes.holders("g3") == [0]  # named, not silently left behind
    assert nodes.hosts[0] in str(e)


def test_unknown_outcome_is_a_possible_orphan(client: ClusterClient, nodes: TestNodes) -> None:
    nodes.command("drop 1 POST 10")  # applied, answer lost every time
    nodes.command("fault 2 POST 500 10")
    assert not client.create_group("g4")
    e = client.last_error
    assert isinstance(e, GroupOperationException)
    assert nodes.hosts[1] in e.possible_orphans


def test_delete_partial_failure_returns_exactly_that_host(
    client: ClusterClient, nodes: TestNodes
) -> None:
    assert client.create_group("g5")
    nodes.command("fault 1 DELETE 500 100")
    assert client.delete_group("g5") == [nodes.hosts[1]]
    assert nodes.holders("g5") == [1]


def test_404_on_delete_counts_as_deleted(client: ClusterClient, nodes: TestNodes) -> None:
    assert client.delete_group("never-created") == []
    assert nodes.count("*", "DELETE") == 3


def test_retries_on_503(client: ClusterClient, nodes: TestNodes) -> None:
    nodes.command("fault * POST 503 2")
    assert client.create_group("g6")
    for i in range(3):
        assert nodes.count(str(i), "POST") == 3
    assert nodes.holders("g6") == [0, 1, 2]


@pytest.mark.parametrize(
    "bad_id", ["", "a/b", "..", ".", "x\0y", "a\\b", "x" * 256, "tab\there", 7, None]
)
def test_invalid_ids_raise_before_anything_is_sent(
    client: ClusterClient, nodes: TestNodes, bad_id: object
) -> None:
    for call in (client.create_group, client.create_group_or_raise, client.delete_group):
        with pytest.raises(InvalidInput):
            call(bad_id)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        client.verify_group(nodes.hosts[0], bad_id)  # type: ignore[arg-type]
    for method in ("POST", "GET", "DELETE"):
        assert nodes.count("*", method) == 0


@pytest.mark.parametrize(
    "bad_hosts",
    [["ftp://x:1"], ["http://127.0.0.1:1", "not a host"], [], ["http://a\0b"], [5], "", 7],
)
def test_invalid_hosts_raise(bad_hosts: object) -> None:
    with pytest.raises(InvalidInput):
        ClusterClient(bad_hosts)  # type: ignore[arg-type]


def test_invalid_host_in_a_call(client: ClusterClient, nodes: TestNodes) -> None:
    for host in ("nope", "http://127.0.0.1:1"):  # bad, and not a node of this client
        with pytest.raises(InvalidInput):
            client.verify_group(host, "g")
    assert nodes.count("*", "GET") == 0


def test_settings_are_checked(nodes: TestNodes, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        ClusterClient(nodes.hosts, retries=0)
    with pytest.raises(InvalidInput):
        ClusterClient(nodes.hosts, timeout=-1)
    with pytest.raises(InvalidInput):
        ClusterClient(nodes.hosts, group_api="carrier-pigeon")
    with pytest.raises(InvalidInput):
        ClusterClient(config=tmp_path / "missing.toml")
    with pytest.raises(InvalidInput):
        ClusterClient(nodes.hosts, config=tmp_path / "x.toml")


def test_hosts_from_environment(nodes: TestNodes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTS", ",".join(nodes.hosts))
    with ClusterClient(**FAST) as c:
        assert c.cluster_management().nodes() == nodes.hosts
    monkeypatch.delenv("HOSTS")
    with pytest.raises(InvalidInput):
        ClusterClient()


def test_config_file(nodes: TestNodes, tmp_path: Path) -> None:
    path = tmp_path / "cluster.toml"
    hosts = ", ".join(f'"{h}"' for h in nodes.hosts)
    path.write_text(f'hosts = [{hosts}]\n[retry]\nattempts = 2\ninitial_delay = "10ms"\n')
    with ClusterClient(config=path) as c:
        assert c.create_group("from-config")
    assert nodes.holders("from-config") == [0, 1, 2]


def test_webdav_nodes(start_nodes) -> None:  # type: ignore[no-untyped-def]
    dav = start_nodes(2, "--api", "webdav")
    with ClusterClient(dav.hosts, group_api="webdav", **{k: v for k, v in FAST.items()}) as c:
        assert c.create_group("dav")
        assert dav.count("*", "PUT") == 2
        assert c.delete_group("dav") == []
    assert dav.holders("dav") == []


def test_concurrent_creates_from_threads(client: ClusterClient, nodes: TestNodes) -> None:
    results: dict = {}

    def create(i: int) -> None:
        results[i] = bool(client.create_group(f"t{i}"))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == {i: True for i in range(5)}
    for i in range(5):
        assert nodes.holders(f"t{i}") == [0, 1, 2]


def test_concurrent_creates_from_asyncio_tasks(nodes: TestNodes) -> None:
    async def main() -> list:
        async with aio.ClusterClient(nodes.hosts, **FAST) as c:
            ok = await asyncio.wait_for(
                asyncio.gather(*(c.create_group(f"a{i}") for i in range(5))), 60
            )
            assert await c.verify_group(nodes.hosts[0], "a0")
            assert await c.delete_group("a4") == []
            m = c.cluster_management()
            assert await m.nodes() == nodes.hosts
            return list(ok)

    assert asyncio.run(main()) == [True] * 5
    for i in range(4):
        assert nodes.holders(f"a{i}") == [0, 1, 2]


def test_async_failure_sets_last_error(nodes: TestNodes) -> None:
    nodes.command("fault 0 POST 500 10")

    async def main() -> None:
        c = aio.ClusterClient(nodes.hosts, **FAST)
        assert await c.create_group("af") is False
        assert isinstance(c.last_error, GroupOperationException)
        assert c.last_error.failed_hosts == [nodes.hosts[0]]
        with pytest.raises(GroupOperationException):
            await c.create_group_or_raise("af")
        await c.close()
        await c.close()
        with pytest.raises(ClientClosedError):
            await c.create_group("af")

    asyncio.run(main())


def test_close_twice_is_safe_and_a_closed_client_raises(nodes: TestNodes) -> None:
    c = ClusterClient(nodes.hosts, **FAST)
    c.close()
    c.close()
    assert c.closed
    for call in (
        lambda: c.create_group("x"),
        lambda: c.delete_group("x"),
        lambda: c.verify_group(nodes.hosts[0], "x"),
        lambda: c.cluster_management().nodes(),
        lambda: c.request("GET", "/"),
    ):
        with pytest.raises(ClientClosedError):
            call()
    with ClusterClient(nodes.hosts, **FAST) as d:
        assert d.create_group("ctx")
    assert d.closed


def test_close_while_calls_are_in_flight(nodes: TestNodes) -> None:
    nodes.command("latency * 300ms")
    c = ClusterClient(nodes.hosts, **FAST)
    errors: list = []

    def create() -> None:
        try:
            c.create_group("slow")
        except ClientClosedError as e:
            errors.append(e)

    t = threading.Thread(target=create)
    t.start()
    threading.Event().wait(0.1)
    c.close()  # returns once the call in flight has returned
    t.join(timeout=30)
    assert not t.is_alive()


def test_management(client: ClusterClient, nodes: TestNodes) -> None:
    assert client.create_group("m")
    m = client.cluster_management()
    assert m.nodes() == nodes.hosts
    assert m.healthy_nodes() == nodes.hosts
    assert m.unhealthy_nodes() == []
    metrics = m.connection_pool_metrics()
    assert set(metrics) == set(nodes.hosts)
    for host, fields in metrics.items():
        assert fields["operations_executed"] >= 2, host
        assert all(isinstance(v, int) for v in fields.values())
    text = m.prometheus()
    for name in next(iter(metrics.values())):
        assert name in text

    nodes.command("down 2")
    for _ in range(3):
        client.create_group("while-down")
    assert nodes.hosts[2] in m.unhealthy_nodes()


def test_request(client: ClusterClient, nodes: TestNodes) -> None:
    r = client.request("GET", "/_admin/server/id")
    assert r.status == 200 and r.host in nodes.hosts and b"CRDN-" in r.body
    r = client.request("POST", "/no/such/path", b'{"x": 1}')
    assert r.status == 404
    with pytest.raises(InvalidInput):
        client.request("GET", "no-slash")
    nodes.command("down *")
    with pytest.raises(RequestErrorException) as info:
        client.request("GET", "/_admin/server/id")
    assert set(info.value.failed_hosts) <= set(nodes.hosts) and info.value.failed_hosts


REFERENCE_PROGRAM = '''
import asyncio

from cluster_client import ClusterClient

client = ClusterClient()

group_id = "example-group"

async def create_group():
    success = await client.create_group(group_id)
    if success:
        print(f"Group {group_id} created successfully on all hosts.")
    else:
        print(f"Group creation failed.")

asyncio.run(create_group())

async def delete_group():
    undeleted_hosts = await client.delete_group(group_id)
    if not undeleted_hosts:
        print(f"Group {group_id} deleted successfully from all hosts.")
    else:
        print(f"Failed to delete group {group_id} from the following hosts: {undeleted_hosts}")

asyncio.run(delete_group())

async def main():
    client = ClusterClient()
    success = await client.create_group("my-group-id")

    if success:
        print("Group created successfully.")
    else:
        print("Group creation failed.")

# Run the main function
asyncio.run(main())
'''


def test_reference_readme_program_runs_unchanged(nodes: TestNodes, tmp_path: Path) -> None:
    program = tmp_path / "reference.py"
    program.write_text(textwrap.dedent(REFERENCE_PROGRAM))
    env = dict(os.environ, HOSTS=",".join(nodes.hosts))
    out = subprocess.run(
        [sys.executable, str(program)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "Group example-group created successfully on all hosts.",
        "Group example-group deleted successfully from all hosts.",
        "Group created successfully.",
    ]
    assert nodes.holders("my-group-id") == [0, 1, 2]
    assert nodes.holders("example-group") == []


def test_package_surface() -> None:
    assert cluster_client.library_version
    assert issubclass(cluster_client.InvalidInput, ValueError)
    assert (Path(cluster_client.__file__).parent / "py.typed").exists()

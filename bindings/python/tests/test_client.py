"""The reference client's scenarios, against real test nodes (the
``cluster-testnodes`` binary) through the C library. Fault injection is the
test nodes' own (``fault``, ``down``, ... commands on their stdin)."""

from __future__ import annotations

import asyncio
import errno
import inspect
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import cluster_client
from cluster_client import (
    ClientClosedError,
    ClusterClient,
    ClusterClientError,
    ConfigFileNotFoundError,
    GroupOperationException,
    InvalidInput,
    OperationCancelled,
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


def test_create_group_returns_a_real_bool(client: ClusterClient, nodes: TestNodes) -> None:
    ok = client.create_group("real-bool")
    assert ok is True and type(ok) is bool
    assert json.dumps({"ok": ok}) == '{"ok": true}'
    nodes.command("fault 0 POST 500 10")
    failed = client.create_group("real-bool-2")
    assert failed is False and type(failed) is bool
    assert json.dumps(failed) == "false"
    nodes.command("clear *")

    def helper() -> bool:  # plain code, even with an event loop running
        return client.create_group("real-bool-4")

    async def main() -> None:
        async with aio.ClusterClient(nodes.hosts, **FAST) as c:
            assert await c.create_group("real-bool-3") is True
        assert helper() is True
        # Only coroutine code calling it directly gets the awaitable form
        # (the reference asyncio client's `await client.create_group(...)`).
        direct = client.create_group("real-bool-5")
        assert isinstance(direct, cluster_client.GroupCreated) and direct == True  # noqa: E712
        assert await direct is True

    asyncio.run(main())


def test_one_error_style_per_call(client: ClusterClient, nodes: TestNodes) -> None:
    # create_group: False, the reason in last_error.
    nodes.command("fault 1 POST 500 10")
    assert client.create_group("style") is False
    assert isinstance(client.last_error, GroupOperationException)
    # delete_group: the nodes where it failed, the reason in last_error.
    assert client.create_group("style-2") is False
    nodes.command("fault 2 DELETE 500 100")
    assert client.delete_group("never-there") == [nodes.hosts[2]]
    e = client.last_error
    assert isinstance(e, GroupOperationException) and e.failed_hosts == [nodes.hosts[2]]
    nodes.command("clear *")
    assert client.delete_group("never-there") == []
    assert client.last_error is None
    # Everything else raises; bad input raises from every call.
    nodes.command("fault 0 POST 500 10")
    with pytest.raises(GroupOperationException):
        client.create_group_or_raise("style-3")
    for call in (client.create_group, client.delete_group, client.create_group_or_raise):
        with pytest.raises(InvalidInput):
            call("a/b")


def test_help_shows_the_real_defaults() -> None:
    expected = {
        "hosts": None,
        "config": None,
        "retries": 3,
        "timeout": 10.0,
        "operation_timeout": 60.0,
        "initial_delay": 1.0,
        "max_delay": 10.0,
        "group_api": "reference",
        "host_resolver": None,
        "hedging": None,
        "hedge_delay": None,
        "hedge_budget_percent": None,
    }
    for cls in (ClusterClient, aio.ClusterClient):
        params = inspect.signature(cls).parameters
        assert {k: p.default for k, p in params.items()} == expected, cls
        text = str(inspect.signature(cls))
        for shown in ("= 3,", "= 10.0,", "= 60.0,", "= 1.0,", "= 'reference'"):
            assert shown in text, (shown, text)
        assert "object at" not in text


def test_config_file_then_keywords_later_wins(
    nodes: TestNodes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    path = folder / "cluster.toml"
    hosts = ", ".join(f'"{h}"' for h in nodes.hosts)
    path.write_text(
        f'hosts = [{hosts}]\n[retry]\nattempts = 1\ninitial_delay = "10ms"\n'
        '[journal]\npath = "sagas.journal"\n'
    )
    monkeypatch.chdir(tmp_path)
    # A keyword that does not touch the retries: the file's single attempt stands.
    nodes.command("fault * POST 503 2")
    with ClusterClient(config=path, operation_timeout=20.0) as c:
        assert c.create_group("file-wins") is False
    assert [nodes.count(str(i), "POST") for i in range(3)] == [1, 1, 1]
    # The file's relative journal path is taken from the file's folder.
    assert (folder / "sagas.journal").exists()
    assert not (tmp_path / "sagas.journal").exists()
    # retries=3 (the default's value, passed explicitly) overrides the file;
    # its delays stay the file's.
    nodes.command("clear *")
    nodes.command("fault * POST 503 2")
    with ClusterClient(config=path, retries=3) as c:
        assert c.create_group("keyword-wins") is True
    assert [nodes.count(str(i), "POST") for i in range(3)] == [4, 4, 4]
    assert nodes.holders("keyword-wins") == [0, 1, 2]
    # hosts given as an argument replace the file's.
    bogus = folder / "bogus.toml"
    bogus.write_text('hosts = ["http://127.0.0.1:1"]\ngroup_api = "reference"\n')
    with ClusterClient(nodes.hosts, config=bogus) as c:
        assert c.cluster_management().nodes() == nodes.hosts
    with ClusterClient(config=bogus, **FAST) as c:
        assert c.cluster_management().nodes() == ["http://127.0.0.1:1"]
    # A bad key in the file is named, with the file, also when merged.
    typo = folder / "typo.toml"
    typo.write_text(f"hosts = [{hosts}]\n[retry]\nattemps = 5\n")
    for kwargs in ({}, {"retries": 2}):
        with pytest.raises(InvalidInput) as info:
            ClusterClient(config=typo, **kwargs)  # type: ignore[arg-type]
        assert "attemps" in str(info.value) and str(typo) in str(info.value), info.value


def test_missing_config_file_is_file_not_found(nodes: TestNodes, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    for kwargs in ({}, {"retries": 2}, {"hosts": nodes.hosts}):
        with pytest.raises(FileNotFoundError) as info:
            ClusterClient(config=missing, **kwargs)  # type: ignore[arg-type]
        e = info.value
        assert isinstance(e, ConfigFileNotFoundError)
        assert isinstance(e, InvalidInput) and isinstance(e, ClusterClientError)
        assert e.errno == errno.ENOENT and e.filename == str(missing)
        assert str(missing) in str(e)
    with pytest.raises(FileNotFoundError):
        aio.ClusterClient(config=str(missing))


def test_library_override_and_bundled_library(tmp_path: Path) -> None:
    from cluster_client import _native

    if not os.environ.get("CLUSTER_CLIENT_LIB"):
        # Installed from the wheel: the library is the package's own.
        assert Path(_native.LIBRARY_PATH).parent == Path(cluster_client.__file__).parent
    # CLUSTER_CLIENT_LIB, when set, is the library loaded.
    env = dict(os.environ, CLUSTER_CLIENT_LIB=str(tmp_path / "no-such-lib.so"))
    out = subprocess.run(
        [sys.executable, "-c", "import cluster_client"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "no-such-lib.so" in out.stderr, out.stderr


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


def test_cancelling_an_aio_call_returns_to_the_loop_at_once(nodes: TestNodes) -> None:
    # The task ends at once: the call is cancelled with it (its waits end;
    # nothing was created, so nothing to roll back); the client stays usable.
    nodes.command("latency * 1s")

    async def main() -> float:
        async with aio.ClusterClient(nodes.hosts, **FAST) as c:
            started = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.create_group("cancelled"), 0.05)
            waited = time.monotonic() - started
            nodes.command("latency * 0")
            assert await c.create_group("after-cancel") is True
            return waited

    assert asyncio.run(main()) < 0.5
    assert nodes.holders("after-cancel") == [0, 1, 2]


# Slow node 2 and no retries: a create holds the group on nodes 0 and 1 at
# once and waits for node 2; without cancellation it would wait the latency.
STOPPABLE = dict(retries=1, timeout=90.0, operation_timeout=90.0)


def wait_for_holders(nodes: TestNodes, group_id: str, expected: list) -> None:
    deadline = time.monotonic() + 20
    while nodes.holders(group_id) != expected:
        assert time.monotonic() < deadline, f"{group_id}: never held by {expected}"
        time.sleep(0.01)


CTRL_C_PROGRAM = """
import sys

import cluster_client

client = cluster_client.ClusterClient(
    sys.argv[1].split(","), retries=1, timeout=90.0, operation_timeout=90.0
)
print("ready", flush=True)
try:
    client.create_group("ctrl-c")
except KeyboardInterrupt as e:
    err = getattr(e, "cluster_client_error", None)
    print(
        "interrupted",
        type(err).__name__,
        ",".join(err.failed_hosts),
        ",".join(err.rollback_failed_hosts) or "-",
        ",".join(err.possible_orphans),
        flush=True,
    )
    # The client goes on (a new call on the main thread), and node 0 no
    # longer holds the group: rolled back.
    print("node 0 holds it:", client.verify_group(client.cluster_management().nodes()[0], "ctrl-c"))
    sys.exit(3)
print("not interrupted", flush=True)
"""


def test_ctrl_c_interrupts_a_blocking_create_and_rolls_it_back(
    nodes: TestNodes, tmp_path: Path
) -> None:
    nodes.command("latency 2 60s")
    program = tmp_path / "ctrl_c.py"
    program.write_text(CTRL_C_PROGRAM)
    proc = subprocess.Popen(
        [sys.executable, str(program), ",".join(nodes.hosts)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        wait_for_holders(nodes, "ctrl-c", [0, 1])
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, (out, err)
    assert took < 2.0, took
    h = nodes.hosts
    assert out.splitlines()[-2:] == [
        f"interrupted OperationCancelled {h[2]} - {h[2]}",
        "node 0 holds it: False",
    ], out
    # Rolled back: no node holds the group but the held-back one (if ever).
    assert set(nodes.holders("ctrl-c")) <= {2}
    assert nodes.holders("ctrl-c") == []


def test_cancelling_an_aio_create_rolls_it_back(nodes: TestNodes) -> None:
    nodes.command("latency 2 2s")
    timing: dict = {}

    async def main() -> None:
        async with aio.ClusterClient(nodes.hosts, **STOPPABLE) as c:
            task = asyncio.create_task(c.create_group("aio-cancel"))
            await asyncio.to_thread(wait_for_holders, nodes, "aio-cancel", [0, 1])
            timing["cancel"] = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            timing["cancelled"] = time.monotonic()
            assert nodes.holders("aio-cancel") == []

    asyncio.run(main())
    assert timing["cancelled"] - timing["cancel"] < 2.0, timing
    assert time.monotonic() - timing["cancel"] < 3.0, "the loop closes promptly"
    # Not created later: once node 2's held-back create lands, it alone may
    # hold the group (a possible orphan of the cancelled create).
    time.sleep(2.5)
    assert set(nodes.holders("aio-cancel")) <= {2}


def test_asyncio_run_cancels_a_create_left_running(nodes: TestNodes) -> None:
    nodes.command("latency 2 60s")
    timing: dict = {}
    tasks: list = []

    async def main() -> None:
        c = aio.ClusterClient(nodes.hosts, **STOPPABLE)
        tasks.append(asyncio.create_task(c.create_group("left-running")))
        await asyncio.to_thread(wait_for_holders, nodes, "left-running", [0, 1])
        timing["returned"] = time.monotonic()

    asyncio.run(main())  # cancels the task, which cancels the create
    assert time.monotonic() - timing["returned"] < 2.0, "asyncio.run waited for the call"
    assert tasks[0].cancelled()
    assert nodes.holders("left-running") == []


def test_close_in_the_middle_of_a_create_raises_client_closed_with_host_lists(
    nodes: TestNodes,
) -> None:
    nodes.command("latency 2 60s")
    c = ClusterClient(nodes.hosts, **STOPPABLE)
    caught: list = []

    def create() -> None:
        try:
            c.create_group("closing")
        except ClusterClientError as e:
            caught.append(e)

    t = threading.Thread(target=create)
    t.start()
    wait_for_holders(nodes, "closing", [0, 1])
    started = time.monotonic()
    c.close()
    t.join(timeout=30)
    assert not t.is_alive()
    assert time.monotonic() - started < 2.0
    assert len(caught) == 1 and isinstance(caught[0], ClientClosedError), caught
    e = caught[0]
    assert e.code == 7
    assert e.failed_hosts == [nodes.hosts[2]]
    assert e.rollback_failed_hosts == []
    assert e.possible_orphans == [nodes.hosts[2]]
    assert nodes.holders("closing") == []  # 0 and 1 rolled back
    # Refused before it started: no host lists.
    with pytest.raises(ClientClosedError) as info:
        c.create_group("later")
    assert info.value.failed_hosts == [] and info.value.possible_orphans == []


def test_close_from_another_thread_stops_a_main_thread_create(nodes: TestNodes) -> None:
    # The main thread's call runs on a call thread with a handle of its
    # own; close() still stops it (the handle shares the client).
    nodes.command("latency 2 60s")
    c = ClusterClient(nodes.hosts, **STOPPABLE)
    closer = threading.Thread(
        target=lambda: (wait_for_holders(nodes, "main-closing", [0, 1]), c.close())
    )
    closer.start()
    started = time.monotonic()
    with pytest.raises(ClientClosedError) as info:
        c.create_group_or_raise("main-closing")
    closer.join(timeout=30)
    assert time.monotonic() - started < 20.0
    e = info.value
    assert (e.failed_hosts, e.rollback_failed_hosts, e.possible_orphans) == (
        [nodes.hosts[2]],
        [],
        [nodes.hosts[2]],
    )
    assert nodes.holders("main-closing") == []
    assert c.closed


def test_operation_cancelled_carries_host_lists() -> None:
    e = OperationCancelled("call cancelled", 8, ["a"], [], ["a"])
    assert isinstance(e, ClusterClientError)
    assert (e.failed_hosts, e.rollback_failed_hosts, e.possible_orphans) == (["a"], [], ["a"])
    assert cluster_client.OperationCancelled is OperationCancelled
    assert OperationCancelled("x").failed_hosts == []


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


def test_latency_and_hedges_per_node(client: ClusterClient, nodes: TestNodes) -> None:
    m = client.cluster_management()
    before = m.latency()
    assert set(before) == set(nodes.hosts)
    assert all(t == cluster_client.LatencySummary(0, 0.0, 0.0, 0.0) for t in before.values())
    assert m.hedges() == cluster_client.HedgeCounts(sent=0, won=0)
    assert client.create_group("timed")
    after = m.latency()
    for host in nodes.hosts:
        t = after[host]
        assert isinstance(t, cluster_client.LatencySummary)
        assert t.count >= 2, host  # a create and its verify
        # Seconds, the upper bound of a bucket (250 µs doubling).
        assert 0.00025 <= t.p50 <= t.p90 <= t.p99 < 10.0, t
    # The pool metrics keep their shape: nodes only, integers only.
    assert set(m.connection_pool_metrics()) == set(nodes.hosts)


def test_resolvers_by_name(nodes: TestNodes) -> None:
    for name in ("round_robin", "random", "fallback", "least_loaded"):
        with ClusterClient(nodes.hosts, host_resolver=name, **FAST) as c:
            for _ in range(4):
                assert c.request("GET", "/_admin/server/id").status == 200
            assert sum(t.count for t in c.cluster_management().latency().values()) == 4
    with ClusterClient(nodes.hosts, host_resolver="fallback", **FAST) as c:
        assert {c.request("GET", "/_admin/server/id").host for _ in range(3)} == {
            nodes.hosts[0]
        }
    for bad in ("fastest", "least-loaded", 3):
        with pytest.raises(InvalidInput):
            ClusterClient(nodes.hosts, host_resolver=bad)  # type: ignore[arg-type]


def test_hedging_keywords(start_nodes) -> None:  # type: ignore[no-untyped-def]
    nodes = start_nodes(2)
    nodes.command("latency 0 1s")  # the node a fallback client starts at is slow
    with ClusterClient(
        nodes.hosts,
        host_resolver="fallback",
        hedging=True,
        hedge_delay=0.03,
        hedge_budget_percent=100,
        **FAST,
    ) as c:
        start = time.monotonic()
        r = c.request("GET", "/_admin/server/id")
        assert time.monotonic() - start < 0.9
        assert r.status == 200 and r.host == nodes.hosts[1], r.host
        m = c.cluster_management()
        assert m.hedges() == cluster_client.HedgeCounts(sent=1, won=1)
        assert m.latency()[nodes.hosts[1]].count == 1
        assert "cluster_client_hedges_won_total" in m.prometheus()
    # Off (the default): the slow node answers, nothing hedged.
    with ClusterClient(nodes.hosts, host_resolver="fallback", **FAST) as c:
        assert c.request("GET", "/_admin/server/id").host == nodes.hosts[0]
        assert c.cluster_management().hedges() == (0, 0)
    for bad in (
        dict(hedging="yes"),
        dict(hedging=True, hedge_delay="soon"),
        dict(hedging=True, hedge_delay="p150"),
        dict(hedging=True, hedge_delay=-1),
        dict(hedging=True, hedge_budget_percent=250),
        dict(hedging=True, hedge_budget_percent="5"),
    ):
        with pytest.raises(InvalidInput):
            ClusterClient(nodes.hosts, **bad)  # type: ignore[arg-type]


def test_hedging_from_the_config_file_and_aio(start_nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    nodes = start_nodes(2)
    nodes.command("latency 0 1s")
    path = tmp_path / "cluster.toml"
    hosts = ", ".join(f'"{h}"' for h in nodes.hosts)
    path.write_text(
        f'hosts = [{hosts}]\nhost_resolver = "fallback"\n'
        '[hedging]\nenabled = true\ndelay = "30ms"\nbudget_percent = 100\n'
    )

    async def main() -> None:
        c = aio.ClusterClient(config=path)
        try:
            r = await c.request("GET", "/_admin/server/id")
            assert r.host == nodes.hosts[1]
            m = c.cluster_management()
            assert await m.hedges() == cluster_client.HedgeCounts(1, 1)
            assert (await m.latency())[nodes.hosts[1]].count == 1
        finally:
            await c.close()

    asyncio.run(main())
    # A keyword turns the file's hedging off.
    with ClusterClient(config=path, hedging=False) as c:
        assert c.request("GET", "/_admin/server/id").host == nodes.hosts[0]
        assert c.cluster_management().hedges().sent == 0


def test_request(client: ClusterClient, nodes: TestNodes) -> None:
    r = client.request("GET", "/_admin/server/id")
    assert r.status == 200 and r.host in nodes.hosts and b"CRDN-" in r.body
    r = client.request("POST", "/no/such/path", b'{"x": 1}')
    assert r.status == 404
    with pytest.raises(InvalidInput):
        client.request("GET", "no-slash")
    # A path that cannot go on the wire is the caller's error: nothing sent.
    before = sum(nodes.count(str(i), "GET") for i in range(3))
    for bad in ["/a<b>", "/a`b", "/a{b}", "/a|b", "/a^b", "/a\\b", '/a"b']:
        with pytest.raises(InvalidInput):
            client.request("GET", bad)
    assert sum(nodes.count(str(i), "GET") for i in range(3)) == before
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

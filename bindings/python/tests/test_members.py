"""A living node set: ``add_node``, ``remove_node`` and ``set_nodes``
against real test nodes (the ``cluster-testnodes`` binary)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, List

import pytest

from cluster_client import ClientClosedError, ClusterClient, InvalidInput
from cluster_client import aio

from conftest import FAST, TestNodes


def test_a_create_after_add_node_reaches_the_new_node(nodes: TestNodes) -> None:
    with ClusterClient(nodes.hosts[:2], **FAST) as c:
        assert c.add_node(nodes.hosts[2]) is None
        assert c.cluster_management().nodes() == nodes.hosts
        assert c.create_group("m1")
        assert nodes.holders("m1") == [0, 1, 2]
        assert c.verify_group(nodes.hosts[2], "m1")


def test_add_node_refuses_a_bad_or_repeated_host(nodes: TestNodes) -> None:
    with ClusterClient(nodes.hosts[:2], **FAST) as c:
        with pytest.raises(InvalidInput, match="already a node"):
            c.add_node(nodes.hosts[0])
        for bad in ["ftp://nope", "", "127.0.0.1:1", "http://a b", "http://x\0y"]:
            with pytest.raises(InvalidInput):
                c.add_node(bad)
        with pytest.raises(InvalidInput):
            c.add_node(42)  # type: ignore[arg-type]
        assert c.cluster_management().nodes() == nodes.hosts[:2]


def test_a_removed_node_takes_no_new_calls(nodes: TestNodes) -> None:
    with ClusterClient(nodes.hosts, **FAST) as c:
        assert c.remove_node(nodes.hosts[0]) is True
        assert c.remove_node(nodes.hosts[0]) is False  # not a node any more
        assert c.cluster_management().nodes() == nodes.hosts[1:]
        assert c.create_group("m2")
        assert nodes.holders("m2") == [1, 2]
        assert nodes.hosts[0] not in c.cluster_management().connection_pool_metrics()
        with pytest.raises(InvalidInput):
            c.remove_node("ftp://nope")


def test_the_last_node_is_not_removed(nodes: TestNodes) -> None:
    with ClusterClient(nodes.hosts[:1], **FAST) as c:
        with pytest.raises(InvalidInput, match="last node"):
            c.remove_node(nodes.hosts[0])
        assert c.cluster_management().nodes() == nodes.hosts[:1]
        assert c.create_group("m3")
        assert nodes.holders("m3") == [0]


def test_set_nodes_replaces_the_node_set(nodes: TestNodes) -> None:
    h = nodes.hosts
    with ClusterClient(h[:2], **FAST) as c:
        c.set_nodes([h[2], h[1]])
        assert c.cluster_management().nodes() == [h[2], h[1]]
        assert c.create_group("m4")
        assert nodes.holders("m4") == [1, 2]
        c.set_nodes(f"{h[0]}, {h[2]}")  # a comma-separated string, as for the constructor
        assert c.cluster_management().nodes() == [h[0], h[2]]
        assert c.create_group("m5")
        assert nodes.holders("m5") == [0, 2]
        c.set_nodes(iter(h))  # any iterable
        assert c.cluster_management().nodes() == h


def test_set_nodes_refuses_empty_bad_or_repeated_sets(nodes: TestNodes) -> None:
    h = nodes.hosts
    bad: List[Any] = [
        [],
        "",
        " , ",
        [h[0], "ftp://nope"],
        [h[0], h[0]],
        f"{h[1]},{h[1]}",
        [h[0], 7],
        [f"{h[0]},{h[1]}"],
        42,
        [h[0] + "\0"],
    ]
    with ClusterClient(h[:2], **FAST) as c:
        for hosts in bad:
            with pytest.raises(InvalidInput):
                c.set_nodes(hosts)
            assert c.cluster_management().nodes() == h[:2], hosts  # nothing changed


def test_a_closed_client_refuses_node_changes(nodes: TestNodes) -> None:
    c = ClusterClient(nodes.hosts[:2], **FAST)
    c.close()
    calls: List[Callable[[], object]] = [
        lambda: c.add_node(nodes.hosts[2]),
        lambda: c.remove_node(nodes.hosts[0]),
        lambda: c.set_nodes(nodes.hosts),
    ]
    for call in calls:
        with pytest.raises(ClientClosedError):
            call()


def test_the_node_set_in_aio(nodes: TestNodes) -> None:
    h = nodes.hosts

    async def main() -> None:
        async with aio.ClusterClient(h[:1], **FAST) as c:
            await c.add_node(h[1])
            assert await c.cluster_management().nodes() == h[:2]
            assert await c.create_group("m6")
            assert await c.remove_node(h[0]) is True
            assert await c.remove_node(h[0]) is False
            with pytest.raises(InvalidInput, match="last node"):
                await c.remove_node(h[1])
            await c.set_nodes([h[2], h[0]])
            assert await c.cluster_management().nodes() == [h[2], h[0]]
            assert await c.create_group("m7")
            with pytest.raises(InvalidInput):
                await c.set_nodes([])
            with pytest.raises(InvalidInput):
                await c.add_node(h[2])

    asyncio.run(main())
    assert nodes.holders("m6") == [0, 1]
    assert nodes.holders("m7") == [0, 2]

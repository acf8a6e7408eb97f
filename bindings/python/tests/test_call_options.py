"""Per-call keyword arguments (``timeout``, ``operation_timeout``,
``retries``, ``hedging``): a handle from ``cc_client_with_options`` for one
call, against real test nodes."""

from __future__ import annotations

import asyncio
import time

import pytest

from cluster_client import ClusterClient, InvalidInput, RequestErrorException, aio

from conftest import FAST, TestNodes


def test_retries_one_makes_one_attempt(client: ClusterClient, nodes: TestNodes) -> None:
    nodes.command("fault * POST 503 100")
    assert not client.create_group("once", retries=1)
    assert [nodes.count(str(i), "POST") for i in range(3)] == [1, 1, 1]
    # The client keeps its own 3 attempts.
    assert not client.create_group("thrice")
    assert [nodes.count(str(i), "POST") for i in range(3)] == [4, 4, 4]
    nodes.command("clear *")
    assert client.create_group("ok", retries=1, timeout=2.0, hedging=False)
    assert nodes.holders("ok") == [0, 1, 2]
    assert client.delete_group("ok", retries=1, operation_timeout=5.0) == []
    assert nodes.holders("ok") == []


def test_operation_timeout_bounds_a_call(client: ClusterClient, nodes: TestNodes) -> None:
    nodes.command("latency * 3s")
    host = nodes.hosts[0]
    started = time.monotonic()
    with pytest.raises(RequestErrorException):
        client.verify_group(host, "g", operation_timeout=0.5)
    assert time.monotonic() - started < 2.5
    started = time.monotonic()
    with pytest.raises(RequestErrorException):
        client.request("GET", "/", timeout=0.3, retries=1)
    assert time.monotonic() - started < 2.5
    # The client's own settings (5 s per attempt) wait for the answer.
    assert client.verify_group(host, "g") is False


def test_per_call_arguments_are_checked(client: ClusterClient, nodes: TestNodes) -> None:
    host = nodes.hosts[0]
    for bad in (
        dict(retries=0),
        dict(retries=True),
        dict(retries=1.5),
        dict(timeout=0),
        dict(timeout=-1.0),
        dict(timeout="1"),
        dict(operation_timeout=400 * 24 * 3600.0),
        dict(operation_timeout=float("inf")),
        dict(hedging=1),
    ):
        with pytest.raises(InvalidInput):
            client.create_group("g", **bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            client.verify_group(host, "g", **bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.request("GET", "/", None, 1.0)  # type: ignore[misc]
    assert all(
        nodes.count(str(i), m) == 0 for i in range(3) for m in ("GET", "HEAD", "POST", "DELETE")
    ), "nothing sent"


def test_aio_retries_one_makes_one_attempt(nodes: TestNodes) -> None:
    nodes.command("fault * POST 503 100")

    async def main() -> None:
        async with aio.ClusterClient(nodes.hosts, **FAST) as c:
            assert not await c.create_group("once", retries=1)
            assert c.last_error is not None
            assert [nodes.count(str(i), "POST") for i in range(3)] == [1, 1, 1]
            nodes.command("latency * 3s")
            started = time.monotonic()
            with pytest.raises(RequestErrorException):
                await c.verify_group(nodes.hosts[0], "g", operation_timeout=0.5)
            assert time.monotonic() - started < 2.5
            nodes.command("latency * 0")
            nodes.command("clear *")
            assert await c.delete_group("once", retries=1) == []
            with pytest.raises(InvalidInput):
                await c.request("GET", "/", retries=0)

    asyncio.run(main())

"""Fixtures: test nodes from the ``cluster-testnodes`` binary (path in
``$CLUSTER_TESTNODES``), real HTTP on 127.0.0.1, no mocks."""

from __future__ import annotations

import os
import subprocess
from typing import Callable, Iterator, List

import pytest

import cluster_client


class TestNodes:
    """A running ``cluster-testnodes``: its hosts and its command channel."""

    __test__ = False  # not a test class

    def __init__(self, count: int = 3, *extra: str) -> None:
        binary = os.environ.get("CLUSTER_TESTNODES")
        if not binary:
            pytest.fail("CLUSTER_TESTNODES is not set (tests/python.rs sets it)")
        self.proc = subprocess.Popen(
            [binary, "--count", str(count), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:"), line
        self.hosts: List[str] = line.split(",")

    def command(self, line: str) -> str:
        """Sends one command; returns what follows ``ok``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().rstrip("\n")
        assert answer.startswith("ok"), f"{line!r} answered {answer!r}"
        return answer[2:].strip()

    def holders(self, group_id: str) -> List[int]:
        """Indices of the nodes holding the group."""
        return [int(i) for i in self.command(f"groups {group_id}").split()]

    def count(self, node: str, method: str) -> int:
        return int(self.command(f"count {node} {method}"))

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def start_nodes() -> Iterator[Callable[..., TestNodes]]:
    started: List[TestNodes] = []

    def start(count: int = 3, *extra: str) -> TestNodes:
        n = TestNodes(count, *extra)
        started.append(n)
        return n

    yield start
    for n in started:
        n.stop()


@pytest.fixture
def nodes(start_nodes: Callable[..., TestNodes]) -> TestNodes:
    return start_nodes(3)


FAST = dict(retries=3, initial_delay=0.01, max_delay=0.05, timeout=5.0, operation_timeout=20.0)


@pytest.fixture
def client(nodes: TestNodes) -> Iterator[cluster_client.ClusterClient]:
    c = cluster_client.ClusterClient(nodes.hosts, **FAST)
    yield c
    c.close()

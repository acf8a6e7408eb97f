"""The asyncio client: ``cluster_client.aio.ClusterClient``, the same methods
as ``cluster_client.ClusterClient`` as coroutines. Each call runs the
blocking call in a worker thread (the loop's default executor); the library
releases the GIL, so concurrent tasks run their calls in parallel.

Cancelling the task of a call (``task.cancel()``, ``asyncio.wait_for``,
``asyncio.run`` ending) cancels the call itself: its waits end at once, a
create rolls back what it had made (within the library's 5 s grace), the
task waits for that (shielded) and then ends with ``CancelledError``. How
the call ended (an ``OperationCancelled`` with the host lists) is logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Optional,
    Tuple,
    TypedDict,
    TypeVar,
    Union,
)

from ._client import (
    DEFAULT_GROUP_API,
    DEFAULT_INITIAL_DELAY,
    DEFAULT_MAX_DELAY,
    DEFAULT_OPERATION_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    HedgeCounts,
    LatencySummary,
    NodeResponse,
)
from ._client import _STOP_WAIT_SECONDS, _CallToken, log
from ._client import ClusterClient as _SyncClient
from .exceptions import ClusterClientError, GroupOperationException

T = TypeVar("T")


class _PerCall(TypedDict):
    """The per-call keyword arguments (see
    ``cluster_client.ClusterClient.create_group_or_raise``)."""

    timeout: Optional[float]
    operation_timeout: Optional[float]
    retries: Optional[int]
    hedging: Optional[bool]


async def _run(
    client: _SyncClient, call: Callable[..., T], *args: object, **kwargs: Any
) -> T:
    """``call(*args)`` in a worker thread, its foreign calls observing a
    token of their own: cancelling the awaiting task cancels them (a create
    rolls back first), waits for the thread to end (at most
    ``_STOP_WAIT_SECONDS``, shielded) and re-raises ``CancelledError``."""
    token = _CallToken()

    def work() -> T:
        client._local.token = token
        try:
            return call(*args, **kwargs)
        finally:
            client._local.token = None
            token.free()

    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    future = loop.run_in_executor(None, functools.partial(context.run, work))
    # Freed however the thread ends (also if it never ran).
    future.add_done_callback(lambda _: token.free())
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        token.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(future), _STOP_WAIT_SECONDS)
        except asyncio.TimeoutError:
            log.error(
                "cluster_client.aio: a cancelled call did not stop within %.0f s; "
                "it ends in the background",
                _STOP_WAIT_SECONDS,
            )
        except Exception:  # noqa: BLE001 - reported below
            pass
        _report_cancelled(future)
        raise


def _report_cancelled(future: "asyncio.Future[Any]") -> None:
    """Logs how a cancelled call ended (and marks its exception seen)."""

    def report(f: "asyncio.Future[Any]") -> None:
        if f.cancelled():
            return
        e = f.exception()
        if isinstance(e, ClusterClientError):
            log.warning("cluster_client.aio: cancelled call: %s", e.message)

    if future.done():
        report(future)
    else:
        future.add_done_callback(report)


class ClusterClient:
    """As ``cluster_client.ClusterClient`` (same arguments, defaults and
    error style: ``create_group`` returns ``False``, ``delete_group`` the
    nodes where it failed, everything else raises), with coroutine methods.
    ``last_error`` is why the last ``create_group`` of this client returned
    ``False`` or ``delete_group`` returned nodes (of any task: check it
    right after the ``await``). The
    constructor runs on the calling thread (it sends nothing)."""

    def __init__(
        self,
        hosts: Optional[Union[str, Iterable[str]]] = None,
        *,
        config: Optional[Union[str, "os.PathLike[str]"]] = None,
        retries: int = DEFAULT_RETRIES,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        operation_timeout: Optional[float] = DEFAULT_OPERATION_TIMEOUT,
        initial_delay: float = DEFAULT_INITIAL_DELAY,
        max_delay: float = DEFAULT_MAX_DELAY,
        group_api: str = DEFAULT_GROUP_API,
        host_resolver: Optional[str] = None,
        hedging: Optional[bool] = None,
        hedge_delay: Optional[Union[str, float]] = None,
        hedge_budget_percent: Optional[float] = None,
    ) -> None:
        self._client = _SyncClient(
            hosts,
            config=config,
            retries=retries,
            timeout=timeout,
            operation_timeout=operation_timeout,
            initial_delay=initial_delay,
            max_delay=max_delay,
            group_api=group_api,
            host_resolver=host_resolver,
            hedging=hedging,
            hedge_delay=hedge_delay,
            hedge_budget_percent=hedge_budget_percent,
        )
        self.last_error: Optional[ClusterClientError] = None

    async def create_group_or_raise(
        self,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> None:
        """Creates the group everywhere or raises ``GroupOperationException``.
        The keyword arguments are for this call only, as in
        ``cluster_client.ClusterClient.create_group_or_raise`` (``None``:
        the client's setting); every call that talks to the nodes takes
        them."""
        await _run(
            self._client,
            self._client.create_group_or_raise,
            group_id,
            **_PerCall(
                timeout=timeout,
                operation_timeout=operation_timeout,
                retries=retries,
                hedging=hedging,
            ),
        )

    async def create_group(
        self,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> bool:
        """Creates the group everywhere: ``True``, or ``False`` with the
        reason in ``last_error`` and the log."""
        try:
            await self.create_group_or_raise(
                group_id,
                timeout=timeout,
                operation_timeout=operation_timeout,
                retries=retries,
                hedging=hedging,
            )
        except GroupOperationException as e:
            self.last_error = e
            _log_failure(group_id, e)
            return False
        self.last_error = None
        return True

    async def delete_group(
        self,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> List[str]:
        """Deletes the group everywhere; the nodes where that failed (empty:
        gone everywhere)."""
        failed, error = await _run(
            self._client,
            self._delete,
            group_id,
            _PerCall(
                timeout=timeout,
                operation_timeout=operation_timeout,
                retries=retries,
                hedging=hedging,
            ),
        )
        self.last_error = error
        return failed

    def _delete(
        self, group_id: str, per_call: _PerCall
    ) -> Tuple[List[str], Optional[ClusterClientError]]:
        failed = self._client.delete_group(group_id, **per_call)
        return list(failed), self._client.last_error

    async def verify_group(
        self,
        host: str,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> bool:
        """Whether node ``host`` holds the group."""
        return await _run(
            self._client,
            self._client.verify_group,
            host,
            group_id,
            **_PerCall(
                timeout=timeout,
                operation_timeout=operation_timeout,
                retries=retries,
                hedging=hedging,
            ),
        )

    async def verify_group_everywhere(
        self,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> Dict[str, Optional[bool]]:
        """Every node's answer at once (``None``: no usable answer)."""
        return await _run(
            self._client,
            self._client.verify_group_everywhere,
            group_id,
            **_PerCall(
                timeout=timeout,
                operation_timeout=operation_timeout,
                retries=retries,
                hedging=hedging,
            ),
        )

    async def request(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> NodeResponse:
        """One request to one node, with failover."""
        return await _run(
            self._client,
            self._client.request,
            method,
            path,
            body,
            **_PerCall(
                timeout=timeout,
                operation_timeout=operation_timeout,
                retries=retries,
                hedging=hedging,
            ),
        )

    async def add_node(self, host: str) -> None:
        """Adds node ``host`` (``InvalidInput``: a bad host or already a node)."""
        await asyncio.to_thread(self._client.add_node, host)

    async def remove_node(self, host: str) -> bool:
        """Removes node ``host``: ``False`` when it is not a node
        (``InvalidInput``: a bad host or the last node)."""
        return await asyncio.to_thread(self._client.remove_node, host)

    async def set_nodes(self, hosts: Union[str, Iterable[str]]) -> None:
        """Makes ``hosts`` the node set (``InvalidInput``: empty, a bad host
        or one listed twice; nothing changes then)."""
        await asyncio.to_thread(self._client.set_nodes, hosts)

    def cluster_management(self) -> "ClusterManagement":
        """The nodes, their health and metrics (coroutine methods)."""
        return ClusterManagement(self._client)

    async def close(self) -> None:
        """Shuts down and frees the client; closing again does nothing."""
        await asyncio.to_thread(self._client.close)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._client.closed

    async def __aenter__(self) -> "ClusterClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ClusterManagement:
    """``cluster_client.ClusterManagement`` with coroutine methods."""

    def __init__(self, client: _SyncClient) -> None:
        self._m = client.cluster_management()

    async def nodes(self) -> List[str]:
        return await asyncio.to_thread(self._m.nodes)

    async def healthy_nodes(self) -> List[str]:
        return await asyncio.to_thread(self._m.healthy_nodes)

    async def unhealthy_nodes(self) -> List[str]:
        return await asyncio.to_thread(self._m.unhealthy_nodes)

    async def connection_pool_metrics(self) -> Dict[str, Dict[str, int]]:
        return await asyncio.to_thread(self._m.connection_pool_metrics)

    async def latency(self) -> Dict[str, LatencySummary]:
        return await asyncio.to_thread(self._m.latency)

    async def hedges(self) -> HedgeCounts:
        return await asyncio.to_thread(self._m.hedges)

    async def prometheus(self) -> str:
        return await asyncio.to_thread(self._m.prometheus)


def _log_failure(group_id: str, e: GroupOperationException) -> None:
    from ._client import log

    log.error("create_group %r failed: %s", group_id, e.message)


__all__ = ["ClusterClient", "ClusterManagement"]

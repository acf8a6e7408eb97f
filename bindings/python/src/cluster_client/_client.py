"""The blocking client: ``cluster_client.ClusterClient``."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import threading
from ctypes import POINTER, c_int, c_void_p
from typing import (
    Any,
    Dict,
    Generator,
    Iterable,
    List,
    NamedTuple,
    Optional,
    Union,
)

from . import _native
from ._native import lib
from .exceptions import (
    ClientClosedError,
    ClusterClientError,
    GroupOperationException,
    InvalidInput,
)

log = logging.getLogger("cluster_client")

_UNSET: Any = object()

#: How long ``close()`` waits for calls in flight to return after the
#: shutdown (they return promptly; a call stuck longer keeps the handle
#: alive rather than freeing it under the call).
_CLOSE_WAIT_SECONDS = 120.0


class GroupCreated(int):
    """The result of ``create_group``: true or false like a ``bool``
    (``if ok:``, ``ok == True``), and also awaitable (``await`` gives the
    ``bool``), so programs written for the reference asyncio client run
    unchanged. The call itself has finished (blocking) before it returns;
    use ``cluster_client.aio`` to not block an event loop."""

    def __new__(cls, value: bool) -> "GroupCreated":
        return super().__new__(cls, 1 if value else 0)

    def __repr__(self) -> str:
        return repr(bool(self))

    __str__ = __repr__

    def __await__(self) -> Generator[Any, None, bool]:
        return bool(self)
        yield  # pragma: no cover - makes this a generator


class UndeletedHosts(List[str]):
    """The result of ``delete_group``: the nodes where the delete failed, a
    ``list``; also awaitable (``await`` gives a plain ``list``), as
    ``GroupCreated``."""

    def __await__(self) -> Generator[Any, None, List[str]]:
        return list(self)
        yield  # pragma: no cover - makes this a generator


class NodeResponse(NamedTuple):
    """One node's answer to ``request``: any status is an answer."""

    host: str
    status: int
    body: bytes


def _duration(seconds: Optional[float], what: str) -> Optional[str]:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidInput(f"{what} must be a number of seconds, not {seconds!r}", 1)
    if not (0 < seconds < 10**9):
        raise InvalidInput(f"{what} must be above 0 seconds, not {seconds!r}", 1)
    return f'"{max(1, round(seconds * 1000))}ms"'


def _toml_string(value: str, what: str) -> str:
    _native.encode(value, what)  # NUL / type checks
    # A JSON string is a TOML basic string (control characters escaped).
    return json.dumps(value, ensure_ascii=False)


def _config_toml(
    hosts: Optional[Union[str, Iterable[str]]],
    retries: int,
    timeout: Optional[float],
    operation_timeout: Optional[float],
    initial_delay: float,
    max_delay: float,
    group_api: str,
) -> str:
    lines: List[str] = []
    if hosts is not None:
        if isinstance(hosts, str):
            hosts = [h for h in hosts.split(",")]
        try:
            host_list = list(hosts)
        except TypeError as e:
            raise InvalidInput(f"hosts must be a list of str: {e}", 1) from e
        if not host_list:
            raise InvalidInput("no hosts configured", 1)
        lines.append(
            "hosts = [" + ", ".join(_toml_string(h, "host") for h in host_list) + "]"
        )
    lines.append("group_api = " + _toml_string(group_api, "group_api"))
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
        raise InvalidInput(f"retries (attempts in all) must be an int >= 1, not {retries!r}", 1)
    lines += ["[retry]", f"attempts = {retries}"]
    lines.append(f"initial_delay = {_duration(initial_delay, 'initial_delay')}")
    lines.append(f"max_delay = {_duration(max_delay, 'max_delay')}")
    lines.append("[timeouts]")
    request = _duration(timeout, "timeout")
    if request is not None:
        lines.append(f"request = {request}")
    operation = _duration(operation_timeout, "operation_timeout")
    if operation is not None:
        lines.append(f"operation = {operation}")
    return "\n".join(lines) + "\n"


class ClusterClient:
    """A blocking client for a cluster of HTTP nodes (thread-safe).

    ``hosts``: node addresses (``["http://10.0.0.1:8000", ...]`` or a
    comma-separated string); ``None`` reads ``$HOSTS``. ``config``: the path
    of a TOML configuration file (the library's format; then pass no other
    setting). ``retries``: attempts in all per node (the first included, as
    the reference client: 3). ``timeout``: seconds for one attempt (default
    10). ``operation_timeout``: seconds for one call, all attempts and
    backoff included (default 60). ``initial_delay``/``max_delay``: the
    exponential backoff in seconds (default 1 and 10). ``group_api``: the
    nodes' group protocol, ``"reference"`` or ``"webdav"``.

    Raises ``InvalidInput`` for bad hosts or settings (nothing is sent).
    """

    def __init__(
        self,
        hosts: Optional[Union[str, Iterable[str]]] = None,
        *,
        config: Optional[Union[str, "os.PathLike[str]"]] = None,
        retries: int = _UNSET,
        timeout: Optional[float] = _UNSET,
        operation_timeout: Optional[float] = _UNSET,
        initial_delay: float = _UNSET,
        max_delay: float = _UNSET,
        group_api: str = _UNSET,
    ) -> None:
        self._lock = threading.Condition()
        self._in_flight = 0
        self._handle: Optional[int] = None
        self._closed = False
        self._local = threading.local()
        settings = {
            "retries": retries,
            "timeout": timeout,
            "operation_timeout": operation_timeout,
            "initial_delay": initial_delay,
            "max_delay": max_delay,
            "group_api": group_api,
        }
        given = [k for k, v in settings.items() if v is not _UNSET]
        if config is not None:
            if hosts is not None or given:
                raise InvalidInput(
                    "pass either config (a TOML file) or hosts and settings, not both: "
                    f"put {', '.join((['hosts'] if hosts is not None else []) + given)} "
                    "in the file",
                    1,
                )
            path = _native.encode(str(config), "config")
            self._handle = _native.new_client(lib.cc_client_new_from_config, path)
        else:
            defaults = {
                "retries": 3,
                "timeout": None,
                "operation_timeout": None,
                "initial_delay": 1.0,
                "max_delay": 10.0,
                "group_api": "reference",
            }
            for k in given:
                defaults[k] = settings[k]
            toml = _config_toml(hosts, **defaults)
            self._handle = _native.new_client(
                lib.cc_client_new_from_toml, toml.encode("utf-8")
            )

    # -- lifetime ---------------------------------------------------------

    def _enter(self) -> int:
        with self._lock:
            if self._closed or self._handle is None:
                raise ClientClosedError("client closed", _native.CC_SHUT_DOWN)
            self._in_flight += 1
            return self._handle

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._lock.notify_all()

    def close(self) -> None:
        """Shuts the client down and frees it. Calls in flight on other
        threads end with ``ClientClosedError``; later calls raise it.
        Closing again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            handle = self._handle
            if handle is None:
                return
            lib.cc_client_shutdown(handle, None)
            self._lock.wait_for(lambda: self._in_flight == 0, _CLOSE_WAIT_SECONDS)
            if self._in_flight != 0:
                log.error("cluster_client: calls still in flight after close; handle kept")
                return
            self._handle = None
        lib.cc_client_free(handle)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def __enter__(self) -> "ClusterClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<cluster_client.ClusterClient {state}>"

    # -- groups -----------------------------------------------------------

    @property
    def last_error(self) -> Optional[ClusterClientError]:
        """Why this thread's last ``create_group`` returned ``False`` (a
        ``GroupOperationException`` with ``failed_hosts``,
        ``rollback_failed_hosts`` and ``possible_orphans``); ``None`` after a
        success."""
        return getattr(self._local, "last_error", None)

    def create_group_or_raise(self, group_id: str) -> None:
        """Creates group ``group_id`` on every node, verified, or rolled back
        everywhere; raises ``GroupOperationException`` when it did not hold
        on every node, ``InvalidInput`` for a bad id (nothing sent)."""
        gid = _native.encode(group_id, "group id")
        handle = self._enter()
        try:
            _native.call(
                lib.cc_create_group, handle, gid, failure=GroupOperationException
            )
        finally:
            self._leave()

    def create_group(self, group_id: str) -> GroupCreated:
        """Creates group ``group_id`` on every node (see
        ``create_group_or_raise``): true on success; false on failure, with
        the reason in ``last_error`` and in the log. Bad input and a closed
        client still raise."""
        try:
            self.create_group_or_raise(group_id)
        except GroupOperationException as e:
            self._local.last_error = e
            log.error("create_group %r failed: %s", group_id, e.message)
            return GroupCreated(False)
        self._local.last_error = None
        log.info("group %r created on every node", group_id)
        return GroupCreated(True)

    def delete_group(self, group_id: str) -> UndeletedHosts:
        """Deletes group ``group_id`` on every node; returns the nodes where
        that failed (empty: gone everywhere; a node without the group counts
        as deleted)."""
        gid = _native.encode(group_id, "group id")
        handle = self._enter()
        out = POINTER(_native.CcStringList)()
        err = POINTER(_native.CcError)()
        try:
            code = lib.cc_delete_group(handle, gid, ctypes.byref(out), ctypes.byref(err))
        finally:
            self._leave()
        failed = _native.take_list(out)
        if code == _native.CC_OPERATION_FAILED:
            e = _native.take_error(err, GroupOperationException)
            log.warning("delete_group %r failed on %s: %s", group_id, failed, e.message)
        elif code != _native.CC_OK:
            raise _native.take_error(err)
        return UndeletedHosts(failed)

    def verify_group(self, host: str, group_id: str) -> bool:
        """Whether node ``host`` (one of the client's nodes) holds the group.
        Raises ``RequestErrorException`` when the node gave no usable answer."""
        h = _native.encode(host, "host")
        gid = _native.encode(group_id, "group id")
        exists = c_int(-1)
        handle = self._enter()
        try:
            _native.call(lib.cc_verify_group, handle, h, gid, ctypes.byref(exists))
        finally:
            self._leave()
        return exists.value == 1

    def verify_group_everywhere(self, group_id: str) -> Dict[str, Optional[bool]]:
        """Every node's answer at once: ``{host: True | False | None}``, None
        for a node that gave no usable answer."""
        gid = _native.encode(group_id, "group id")
        out = POINTER(_native.CcPresenceList)()
        handle = self._enter()
        try:
            _native.call(lib.cc_verify_group_everywhere, handle, gid, ctypes.byref(out))
        finally:
            self._leave()
        try:
            result: Dict[str, Optional[bool]] = {}
            lst = out.contents
            for i in range(lst.len):
                p = lst.items[i]
                host = (p.host or b"").decode("utf-8", "replace")
                result[host] = None if p.state == _native.CC_UNKNOWN else p.state == 1
            return result
        finally:
            lib.cc_presence_list_free(out)

    # -- requests and management ------------------------------------------

    def request(
        self, method: str, path: str, body: Optional[bytes] = None
    ) -> NodeResponse:
        """One request to one node picked by the resolver, failing over on a
        connection failure or a 503. Any status is an answer; raises
        ``RequestErrorException`` (naming every node tried) when none came."""
        m = _native.encode(method, "method")
        p = _native.encode(path, "path")
        if body is not None and not isinstance(body, (bytes, bytearray)):
            raise InvalidInput("body must be bytes or None", 1)
        data = bytes(body) if body is not None else None
        out = POINTER(_native.CcResponse)()
        handle = self._enter()
        try:
            _native.call(
                lib.cc_request,
                handle,
                m,
                p,
                data,
                len(data) if data is not None else 0,
                ctypes.byref(out),
            )
        finally:
            self._leave()
        try:
            r = out.contents
            raw = ctypes.string_at(r.body, r.body_len) if r.body else b""
            return NodeResponse((r.host or b"").decode("utf-8", "replace"), r.status, raw)
        finally:
            lib.cc_response_free(out)

    def cluster_management(self) -> "ClusterManagement":
        """The nodes, their health, pool metrics and the Prometheus text."""
        return ClusterManagement(self)

    def _list(self, fn: Any) -> List[str]:
        out = POINTER(_native.CcStringList)()
        handle = self._enter()
        try:
            _native.call(fn, handle, ctypes.byref(out))
        finally:
            self._leave()
        return _native.take_list(out)

    def _text(self, fn: Any) -> str:
        out = c_void_p()
        handle = self._enter()
        try:
            _native.call(fn, handle, ctypes.byref(out))
        finally:
            self._leave()
        return _native.take_string(out)


class ClusterManagement:
    """The nodes of a client, their health and pool metrics."""

    def __init__(self, client: ClusterClient) -> None:
        self._client = client

    def nodes(self) -> List[str]:
        """Every node, in configuration order."""
        return self._client._list(lib.cc_nodes)

    def healthy_nodes(self) -> List[str]:
        """The nodes currently considered healthy."""
        return self._client._list(lib.cc_healthy_nodes)

    def unhealthy_nodes(self) -> List[str]:
        """The nodes currently considered unhealthy."""
        return self._client._list(lib.cc_unhealthy_nodes)

    def connection_pool_metrics(self) -> Dict[str, Dict[str, int]]:
        """``{host: {metric name: value}}`` for every node (the names are
        the library's: ``curr_connections``, ``connections_created``, ...)."""
        text = self._client._text(lib.cc_metrics_json)
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ClusterClientError(f"unexpected metrics {text!r}")
        return value

    def prometheus(self) -> str:
        """The Prometheus text exposition of the metrics and node health."""
        return self._client._text(lib.cc_prometheus)


"""The blocking client: ``cluster_client.ClusterClient``."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import datetime
import inspect
import json
import logging
import os
import queue
import re
import sys
import threading
import time
from ctypes import POINTER, c_int, c_void_p
from typing import (
    Any,
    Callable,
    Dict,
    Generator,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Tuple,
    Type,
    Union,
)

from . import _native
from ._native import lib
from .exceptions import (
    ClientClosedError,
    ClusterClientError,
    ConfigFileNotFoundError,
    GroupOperationException,
    InvalidInput,
    RequestErrorException,
)

log = logging.getLogger("cluster_client")

#: How long ``close()`` waits for calls in flight to return after the
#: shutdown (they return promptly; a call stuck longer keeps the handle
#: alive rather than freeing it under the call).
_CLOSE_WAIT_SECONDS = 120.0

#: How often a blocking call on the main thread wakes to let Python run
#: signal handlers (Ctrl-C) while the library works on another thread.
_WAIT_SLICE_SECONDS = 0.05

#: How long an interrupted call may take to stop after its cancel: the
#: library's rollback grace (``COMPENSATION_GRACE``, 5 s) and a margin.
_STOP_WAIT_SECONDS = 10.0


#: The longest per-call timeout (the library refuses more): one year.
_MAX_CALL_TIMEOUT_SECONDS = 365 * 24 * 3600


class _CallOptions(NamedTuple):
    """The arguments of ``cc_client_with_options`` (0: the client's)."""

    operation_timeout_ms: int
    request_timeout_ms: int
    retries: int
    hedging: int


def _call_timeout_ms(seconds: Optional[float], what: str) -> int:
    if seconds is None:
        return 0
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidInput(f"{what} must be a number of seconds, not {seconds!r}", 1)
    if not (0 < seconds <= _MAX_CALL_TIMEOUT_SECONDS):
        raise InvalidInput(
            f"{what} must be above 0 seconds and at most a year, not {seconds!r}", 1
        )
    return max(1, round(seconds * 1000))


def _call_options(
    timeout: Optional[float],
    operation_timeout: Optional[float],
    retries: Optional[int],
    hedging: Optional[bool],
) -> Optional[_CallOptions]:
    """The per-call keyword arguments, checked (``InvalidInput``, nothing
    sent); ``None`` when none was passed."""
    if timeout is None and operation_timeout is None and retries is None and hedging is None:
        return None
    if retries is not None and (
        isinstance(retries, bool) or not isinstance(retries, int) or not 1 <= retries < 2**31
    ):
        raise InvalidInput(f"retries (attempts in all) must be an int >= 1, not {retries!r}", 1)
    if hedging is not None and not isinstance(hedging, bool):
        raise InvalidInput(f"hedging must be True or False, not {hedging!r}", 1)
    return _CallOptions(
        _call_timeout_ms(operation_timeout, "operation_timeout"),
        _call_timeout_ms(timeout, "timeout"),
        retries or 0,
        0 if hedging is None else (1 if hedging else 2),
    )


def _with_options(handle: int, options: Optional[_CallOptions]) -> int:
    """A new handle of ``handle`` with ``options`` (free it with
    ``cc_client_free``), or ``handle`` itself when there are none."""
    if options is None:
        return handle
    err = POINTER(_native.CcError)()
    derived: Optional[int] = lib.cc_client_with_options(handle, *options, ctypes.byref(err))
    if not derived:
        raise _native.take_error(err)
    if err:
        lib.cc_error_free(err)
    return derived


#: How long an idle call thread waits for its next call before it ends.
_IDLE_THREAD_SECONDS = 30.0


class _CallThreads:
    """Daemon threads that run the main thread's calls, kept for reuse (a
    new thread per call costs ~100 us, a hand-off far less). A thread idle
    for ``_IDLE_THREAD_SECONDS`` ends; a forked child starts afresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: List["queue.SimpleQueue[Callable[[], None]]"] = []

    def forget(self) -> None:
        """After ``fork()``: the parent's threads do not exist here."""
        self._lock = threading.Lock()
        self._idle = []

    def run(self, job: Callable[[], None]) -> None:
        """Runs ``job`` on an idle thread or a new one; raises (having run
        nothing) when no thread can start."""
        with self._lock:
            jobs = self._idle.pop() if self._idle else None
        if jobs is None:
            jobs = queue.SimpleQueue()
            threading.Thread(
                target=self._serve, args=(jobs,), name="cluster_client call", daemon=True
            ).start()
        jobs.put(job)

    def _serve(self, jobs: "queue.SimpleQueue[Callable[[], None]]") -> None:
        while True:
            try:
                job = jobs.get(timeout=_IDLE_THREAD_SECONDS)
            except queue.Empty:
                with self._lock:
                    if jobs in self._idle:
                        self._idle.remove(jobs)
                        return
                continue  # taken just now: its job is on the way
            job()
            with self._lock:
                self._idle.append(jobs)


_threads = _CallThreads()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_threads.forget)


class _CallToken:
    """A C cancel token for the calls of one operation: ``cancel()`` from
    any thread, ``free()`` once (both safe to call again, in any order)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ptr: Optional[int] = lib.cc_cancel_new()
        if not self._ptr:
            raise ClusterClientError("cluster_client: no cancel token", _native.CC_OTHER)

    def cancel(self) -> None:
        with self._lock:
            if self._ptr:
                lib.cc_cancel(self._ptr)

    def free(self) -> None:
        with self._lock:
            ptr, self._ptr = self._ptr, None
        if ptr:
            lib.cc_cancel_free(ptr)

    def handle_for(self, client: int) -> int:
        """A new handle of ``client`` whose calls observe this token (free
        it with ``cc_client_free``; it keeps the token alive itself)."""
        err = POINTER(_native.CcError)()
        with self._lock:
            handle: Optional[int] = lib.cc_client_with_cancel(
                client, self._ptr, ctypes.byref(err)
            )
        if not handle:
            raise _native.take_error(err)
        if err:
            lib.cc_error_free(err)
        return handle


class _Worker:
    """One C call on a call thread (``_CallThreads``), so that the main
    thread, waiting for it in short slices, handles signals (Ctrl-C). Exactly one
    side cleans up (the handle, the token, the client's in-flight count):
    the worker once it runs, or the caller if it never will."""

    def __init__(
        self,
        fn: Callable[..., int],
        args: Tuple[object, ...],
        handle: int,
        token: _CallToken,
        leave: Callable[[], None],
    ) -> None:
        self._fn = fn
        self._args = args
        self._handle = handle
        self.token = token
        self._leave = leave
        self._lock = threading.Lock()
        self._owner: Optional[str] = None
        self._abandoned = False
        self.done = threading.Event()
        self.code: Optional[int] = None
        self.err: Optional["ctypes._Pointer[_native.CcError]"] = None
        self.raised: Optional[BaseException] = None

    def claim(self, who: str) -> bool:
        with self._lock:
            if self._owner is None:
                self._owner = who
            return self._owner == who

    def cleanup(self) -> None:
        lib.cc_client_free(self._handle)
        self.token.free()
        self._leave()

    def run(self) -> None:
        if not self.claim("worker"):
            return
        err = POINTER(_native.CcError)()
        code: Optional[int] = None
        raised: Optional[BaseException] = None
        try:
            code = self._fn(self._handle, *self._args, ctypes.byref(err))
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            raised = e
        finally:
            self.cleanup()
            with self._lock:
                if self._abandoned:
                    if err:
                        lib.cc_error_free(err)
                else:
                    self.code, self.err, self.raised = code, err, raised
                self.done.set()

    def start(self) -> None:
        _threads.run(self.run)

    def wait(self, limit: Optional[float]) -> bool:
        """Waits in short slices (signals are handled between them) until
        the call returned or ``limit`` seconds passed; True when it returned."""
        end = None if limit is None else time.monotonic() + limit
        while not self.done.wait(_WAIT_SLICE_SECONDS):
            if end is not None and time.monotonic() >= end:
                return False
        return True

    def abandon(self) -> bool:
        """Stops waiting for the call: the worker frees its error when it
        returns. False when it already returned (its result is here)."""
        with self._lock:
            if self.done.is_set():
                return False
            self._abandoned = True
            return True


class GroupCreated(int):
    """What ``create_group`` returns when called directly from coroutine
    code, an ``async def`` body (the reference asyncio client's
    ``await client.create_group(...)``): true or false like a ``bool``
    (``if ok:``, ``ok == True``) and awaitable (``await`` gives the
    ``bool``), so programs written for that client run unchanged. The call
    itself has finished (blocking the loop) before it returns; use
    ``cluster_client.aio`` in asyncio code. Everywhere else
    ``create_group`` returns a plain ``bool``."""

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


@dataclasses.dataclass(frozen=True)
class LatencySummary:
    """One node's answer times: how many were measured, and the 50th, 90th
    and 99th percentiles in seconds (the upper bound of the histogram
    bucket each falls in: 250 µs doubling; 0.0 while ``count`` is 0)."""

    count: int
    p50: float
    p90: float
    p99: float


class HedgeCounts(NamedTuple):
    """Hedged reads of the client: second requests sent for slow one-node
    reads, and how many of them answered first."""

    sent: int
    won: int


#: The ``host_resolver`` names (as in the configuration file).
RESOLVERS = ("round_robin", "random", "fallback", "least_loaded")

#: Keys of ``cc_metrics_json``'s object that are not node addresses.
_NOT_NODES = ("latency", "hedges")


class _DefaultInt(int):
    """A default the caller did not pass (shown by ``help()`` as the int)."""


class _DefaultFloat(float):
    """A default the caller did not pass (shown as the float)."""


class _DefaultStr(str):
    """A default the caller did not pass (shown as the str)."""


def _given(value: object) -> bool:
    """Whether the caller passed ``value`` (rather than left the default)."""
    return value is not None and not isinstance(
        value, (_DefaultInt, _DefaultFloat, _DefaultStr)
    )


# The library's own defaults (``ClientBuilder``), shown by ``help()``. A
# setting left at its default is not sent, so a configuration file's value
# for it stands.
DEFAULT_RETRIES: int = _DefaultInt(3)
DEFAULT_TIMEOUT: float = _DefaultFloat(10.0)
DEFAULT_OPERATION_TIMEOUT: float = _DefaultFloat(60.0)
DEFAULT_INITIAL_DELAY: float = _DefaultFloat(1.0)
DEFAULT_MAX_DELAY: float = _DefaultFloat(10.0)
DEFAULT_GROUP_API: str = _DefaultStr("reference")

# Keys of the configuration file holding paths relative to the file's folder.
_RELATIVE_PATH_KEYS = (("tls", "ca_file"), ("journal", "path"))


def _duration(seconds: object, what: str) -> str:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidInput(f"{what} must be a number of seconds, not {seconds!r}", 1)
    if not (0 < seconds < 10**9):
        raise InvalidInput(f"{what} must be above 0 seconds, not {seconds!r}", 1)
    return f"{max(1, round(seconds * 1000))}ms"


def _toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else _toml_value(key)


def _toml_value(value: object) -> str:
    """``value`` as TOML (what a TOML parser gives back: tables, arrays,
    strings, numbers, booleans, dates), tables inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        _native.encode(value, "a configuration value")  # NUL check
        # A JSON string is a TOML basic string (control characters escaped).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}" if items else "{}"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise InvalidInput(f"cannot write {value!r} as TOML", 1)


def _toml_document(table: Dict[str, Any]) -> str:
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in table.items())


def _host_list(hosts: Union[str, Iterable[str]]) -> List[str]:
    if isinstance(hosts, str):
        hosts = hosts.split(",")
    try:
        host_list = list(hosts)
    except TypeError as e:
        raise InvalidInput(f"hosts must be a list of str: {e}", 1) from e
    if not host_list:
        raise InvalidInput("no hosts configured", 1)
    for h in host_list:
        _native.encode(h, "host")  # type and NUL checks
    return host_list


def _settings(
    hosts: Optional[Union[str, Iterable[str]]],
    retries: int,
    timeout: Optional[float],
    operation_timeout: Optional[float],
    initial_delay: float,
    max_delay: float,
    group_api: str,
    host_resolver: Optional[str] = None,
    hedging: Optional[bool] = None,
    hedge_delay: Optional[Union[str, float]] = None,
    hedge_budget_percent: Optional[float] = None,
) -> Dict[str, Any]:
    """The settings the caller passed, as configuration-file keys (a
    setting left at its default is left out)."""
    table: Dict[str, Any] = {}
    if hosts is not None:
        table["hosts"] = _host_list(hosts)
    if _given(group_api):
        _native.encode(group_api, "group_api")
        table["group_api"] = group_api
    if host_resolver is not None:
        if host_resolver not in RESOLVERS:
            raise InvalidInput(
                f"host_resolver must be one of {', '.join(RESOLVERS)}, not {host_resolver!r}",
                1,
            )
        table["host_resolver"] = host_resolver
    hedge = _hedging(hedging, hedge_delay, hedge_budget_percent)
    if hedge:
        table["hedging"] = hedge
    retry: Dict[str, Any] = {}
    if _given(retries):
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
            raise InvalidInput(
                f"retries (attempts in all) must be an int >= 1, not {retries!r}", 1
            )
        retry["attempts"] = retries
    if _given(initial_delay):
        retry["initial_delay"] = _duration(initial_delay, "initial_delay")
    if _given(max_delay):
        retry["max_delay"] = _duration(max_delay, "max_delay")
    if retry:
        table["retry"] = retry
    timeouts: Dict[str, Any] = {}
    if _given(timeout):
        timeouts["request"] = _duration(timeout, "timeout")
    if _given(operation_timeout):
        timeouts["operation"] = _duration(operation_timeout, "operation_timeout")
    if timeouts:
        table["timeouts"] = timeouts
    return table


def _hedging(
    enabled: Optional[bool],
    delay: Optional[Union[str, float]],
    budget_percent: Optional[float],
) -> Dict[str, Any]:
    """The ``[hedging]`` keys the caller passed (the library checks the
    values and names the key in its error)."""
    table: Dict[str, Any] = {}
    if enabled is not None:
        if not isinstance(enabled, bool):
            raise InvalidInput(f"hedging must be True or False, not {enabled!r}", 1)
        table["enabled"] = enabled
    if delay is not None:
        if isinstance(delay, str):
            _native.encode(delay, "hedge_delay")
            table["delay"] = delay
        else:
            table["delay"] = _duration(delay, "hedge_delay")
    if budget_percent is not None:
        if isinstance(budget_percent, bool) or not isinstance(budget_percent, (int, float)):
            raise InvalidInput(
                f"hedge_budget_percent must be a number, not {budget_percent!r}", 1
            )
        table["budget_percent"] = float(budget_percent)
    return table


def _read_config(path: str) -> Dict[str, Any]:
    """The configuration file as a table, its relative paths made relative
    to the current directory (the library takes them from the file's
    folder)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9 and 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigFileNotFoundError(path) from None
    except OSError as e:
        raise InvalidInput(f"config file {path} cannot be read: {e}", 1) from e
    except tomllib.TOMLDecodeError as e:
        raise InvalidInput(f"{path}: {e}", 1) from e
    folder = os.path.dirname(path)
    for section, key in _RELATIVE_PATH_KEYS:
        value = table.get(section)
        if isinstance(value, dict) and isinstance(value.get(key), str):
            value[key] = os.path.join(folder, value[key])
    return table


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    """``over`` applied on ``base``, section by section (as the builder
    calls after ``config_file`` in Rust: later wins, key by key)."""
    merged = dict(base)
    for key, value in over.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and key != "group_api":
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


_COROUTINE_CODE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _caller_is_coroutine(depth: int) -> bool:
    """Whether the code ``depth`` frames above this function's caller is
    coroutine code (an ``async def`` body, or top-level ``await``)."""
    try:
        frame = sys._getframe(depth + 1)
    except ValueError:  # pragma: no cover - no such frame
        return False
    return bool(frame.f_code.co_flags & _COROUTINE_CODE)


_GENERATED_PREFIX = re.compile(r"\bconfig: (line \d+: )?")


class ClusterClient:
    """A blocking client for a cluster of HTTP nodes (thread-safe).

    ``hosts``: node addresses (``["http://10.0.0.1:8000", ...]`` or a
    comma-separated string); ``None``: the configuration file's ``hosts``,
    else ``$HOSTS``. ``config``: the path of a TOML configuration file (the
    library's format, as ``ClientBuilder::config_file``). ``retries``:
    attempts in all per node, the first included (as the reference client).
    ``timeout``: seconds for one attempt. ``operation_timeout``: seconds for
    one call, all attempts and backoff included. ``initial_delay`` and
    ``max_delay``: the exponential backoff, in seconds. ``group_api``: the
    nodes' group protocol, ``"reference"`` or ``"webdav"``.
    ``host_resolver``: where a one-node call (``request``) starts,
    ``"round_robin"`` (the library's default), ``"random"``, ``"fallback"``
    or ``"least_loaded"``. ``hedging``: ``True`` sends a slow idempotent
    one-node read (``request`` with GET, HEAD or OPTIONS) to a second node
    too, the first answer wins; ``hedge_delay``: when, ``"p95"`` (a
    percentile of this client's answer times, the default) or seconds;
    ``hedge_budget_percent``: hedges are at most this share of requests
    (default 5). These are the configuration file's ``host_resolver`` and
    ``[hedging]`` keys; ``None`` leaves the file's value.

    The defaults shown are the library's. With ``config``, the file comes
    first and the arguments passed here override it, key by key (as builder
    calls after ``config_file`` in Rust: later wins); an argument left at
    its default (or ``None``) leaves the file's value in place.

    Errors, one style per call: ``create_group`` returns ``False`` (the
    reason in ``last_error``) and ``delete_group`` returns the nodes where
    it failed when the operation fails on the nodes; every other call
    raises (``GroupOperationException``, ``RequestErrorException``). Every
    call, the constructor included, raises ``InvalidInput`` for bad input
    (a bad host, id or setting; nothing is sent),
    ``ConfigFileNotFoundError`` (an ``InvalidInput`` and a
    ``FileNotFoundError``) for a missing configuration file,
    ``ClientClosedError`` once closed (with the host lists of a create that
    ``close()`` stopped part way, after its rollback), and
    ``ClusterClientError`` for anything else the library reports.

    Ctrl-C during a call on the main thread is noticed within 50 ms and
    cancels the call (a create rolls back what it created first, at most
    5 s), then ``KeyboardInterrupt`` is raised; its ``cluster_client_error`` is how the call ended (an
    ``OperationCancelled`` with the host lists), or ``None``.
    """

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
        self._lock = threading.Condition()
        self._in_flight = 0
        self._handle: Optional[int] = None
        self._closed = False
        self._local = threading.local()
        table = _settings(
            hosts,
            retries,
            timeout,
            operation_timeout,
            initial_delay,
            max_delay,
            group_api,
            host_resolver,
            hedging,
            hedge_delay,
            hedge_budget_percent,
        )
        if config is None:
            toml = _toml_document(table)
            self._handle = _native.new_client(
                lib.cc_client_new_from_toml, toml.encode("utf-8")
            )
            return
        if not isinstance(config, (str, os.PathLike)):
            raise InvalidInput(f"config must be a path, not {config!r}", 1)
        path = os.fspath(config)
        encoded = _native.encode(path, "config")
        if not table:
            # The file alone: the library reads it (its errors name the line).
            if not os.path.exists(path):
                raise ConfigFileNotFoundError(path)
            self._handle = _native.new_client(lib.cc_client_new_from_config, encoded)
            return
        toml = _toml_document(_merge(_read_config(path), table))
        try:
            self._handle = _native.new_client(
                lib.cc_client_new_from_toml, toml.encode("utf-8")
            )
        except ClusterClientError as e:
            # The library's message names the key; its line would be of the
            # merged text, so the file is named instead.
            e.message = _GENERATED_PREFIX.sub(f"{path} with the arguments: ", e.message, count=1)
            e.args = (e.message,)
            raise

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
        """Why this thread's last ``create_group`` returned ``False`` or
        ``delete_group`` returned nodes (a ``GroupOperationException`` with
        ``failed_hosts``, ``rollback_failed_hosts`` and
        ``possible_orphans``); ``None`` after a success."""
        return getattr(self._local, "last_error", None)

    @contextlib.contextmanager
    def _options(
        self,
        timeout: Optional[float],
        operation_timeout: Optional[float],
        retries: Optional[int],
        hedging: Optional[bool],
    ) -> Iterator[None]:
        """The per-call keyword arguments (checked first: ``InvalidInput``,
        nothing sent) for the calls this thread makes inside; a call that
        passes none keeps the settings around it."""
        options = _call_options(timeout, operation_timeout, retries, hedging)
        if options is None:
            yield
            return
        previous = getattr(self._local, "options", None)
        self._local.options = options
        try:
            yield
        finally:
            self._local.options = previous

    def create_group_or_raise(
        self,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> None:
        """Creates group ``group_id`` on every node, verified, or rolled back
        everywhere; raises ``GroupOperationException`` when it did not hold
        on every node, ``InvalidInput`` for a bad id (nothing sent).

        The keyword arguments, for this call only (``None``: the client's
        setting): ``timeout`` seconds per attempt (at most the client's
        ``timeout``), ``operation_timeout`` seconds in all, ``retries``
        attempts in all per node (the client's backoff delays), ``hedging``
        ``False`` to turn hedging off (``True`` allows it when the client
        hedges). Every call that talks to the nodes takes them."""
        gid = _native.encode(group_id, "group id")
        with self._options(timeout, operation_timeout, retries, hedging):
            self._call(lib.cc_create_group, gid, failure=GroupOperationException)

    def create_group(
        self,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> bool:
        """Creates group ``group_id`` on every node (see
        ``create_group_or_raise``): ``True`` on success; ``False`` when it
        did not hold on every node, with the reason in ``last_error`` and in
        the log. Bad input, a closed client and other errors raise.

        Called directly from coroutine code (an ``async def`` body), the
        result is also awaitable (a ``GroupCreated``, a ``bool``-like
        ``int``), for programs written for the reference asyncio client
        (``await client.create_group(...)``)."""
        try:
            self.create_group_or_raise(
                group_id,
                timeout=timeout,
                operation_timeout=operation_timeout,
                retries=retries,
                hedging=hedging,
            )
            ok = True
        except GroupOperationException as e:
            self._local.last_error = e
            log.error("create_group %r failed: %s", group_id, e.message)
            ok = False
        else:
            self._local.last_error = None
            log.info("group %r created on every node", group_id)
        if _caller_is_coroutine(1):
            created: bool = GroupCreated(ok)  # type: ignore[assignment]
            return created
        return ok

    def delete_group(
        self,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> UndeletedHosts:
        """Deletes group ``group_id`` on every node; returns the nodes where
        that failed (empty: gone everywhere; a node without the group counts
        as deleted), with the reason in ``last_error`` and in the log. Bad
        input, a closed client and other errors raise. Per-call keyword
        arguments as ``create_group_or_raise``."""
        gid = _native.encode(group_id, "group id")
        out = POINTER(_native.CcStringList)()
        with self._options(timeout, operation_timeout, retries, hedging):
            code, err = self._invoke(
                lib.cc_delete_group, gid, ctypes.byref(out), failure=GroupOperationException
            )
        failed = _native.take_list(out)
        if code == _native.CC_OPERATION_FAILED:
            e = _native.take_error(err, GroupOperationException)
            self._local.last_error = e
            log.warning("delete_group %r failed on %s: %s", group_id, failed, e.message)
        elif code != _native.CC_OK:
            raise _native.take_error(err)
        else:
            self._local.last_error = None
        return UndeletedHosts(failed)

    def verify_group(
        self,
        host: str,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> bool:
        """Whether node ``host`` (one of the client's nodes) holds the group.
        Raises ``RequestErrorException`` when the node gave no usable answer.
        Per-call keyword arguments as ``create_group_or_raise``."""
        h = _native.encode(host, "host")
        gid = _native.encode(group_id, "group id")
        exists = c_int(-1)
        with self._options(timeout, operation_timeout, retries, hedging):
            self._call(lib.cc_verify_group, h, gid, ctypes.byref(exists))
        return exists.value == 1

    def verify_group_everywhere(
        self,
        group_id: str,
        *,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        hedging: Optional[bool] = None,
    ) -> Dict[str, Optional[bool]]:
        """Every node's answer at once: ``{host: True | False | None}``, None
        for a node that gave no usable answer. Per-call keyword arguments as
        ``create_group_or_raise``."""
        gid = _native.encode(group_id, "group id")
        out = POINTER(_native.CcPresenceList)()
        with self._options(timeout, operation_timeout, retries, hedging):
            self._call(lib.cc_verify_group_everywhere, gid, ctypes.byref(out))
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

    # -- the node set -----------------------------------------------------

    def add_node(self, host: str) -> None:
        """Adds node ``host`` (e.g. ``"http://10.0.0.3:8000"``): calls that
        start afterwards may use it (a ``create_group`` reaches it). Raises
        ``InvalidInput`` for a bad host or one that is already a node
        (nothing changes then)."""
        h = _native.encode(host, "host")
        self._call(lib.cc_client_add_node, h, interruptible=False)

    def remove_node(self, host: str) -> bool:
        """Removes node ``host``: it takes no new calls at once, its calls
        in flight finish, then its connections close. ``False`` when
        ``host`` is not a node. Raises ``InvalidInput`` for a bad host or
        the last node (a client keeps at least one)."""
        h = _native.encode(host, "host")
        removed = c_int(0)
        self._call(
            lib.cc_client_remove_node, h, ctypes.byref(removed), interruptible=False
        )
        return removed.value == 1

    def set_nodes(self, hosts: Union[str, Iterable[str]]) -> None:
        """Makes ``hosts`` (a list, or a comma-separated string as for the
        constructor) the node set, in that order, applying the difference:
        nodes that stay keep their connections, health and metrics; the
        others leave as with ``remove_node``. Raises ``InvalidInput`` for an
        empty set, a bad host or one listed twice (nothing changes then)."""
        if isinstance(hosts, str):
            csv = hosts
        else:
            host_list = _host_list(hosts)
            for h in host_list:
                if "," in h:
                    raise InvalidInput(f"host {h!r} contains a comma", 1)
            csv = ",".join(host_list)
        self._call(
            lib.cc_client_set_nodes, _native.encode(csv, "hosts"), interruptible=False
        )

    # -- requests and management ------------------------------------------

    def request(
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
        """One request to one node picked by the resolver, failing over on a
        connection failure or a 503. Any status is an answer; raises
        ``RequestErrorException`` (naming every node tried) when none came.
        Per-call keyword arguments as ``create_group_or_raise``."""
        m = _native.encode(method, "method")
        p = _native.encode(path, "path")
        if body is not None and not isinstance(body, (bytes, bytearray)):
            raise InvalidInput("body must be bytes or None", 1)
        data = bytes(body) if body is not None else None
        out = POINTER(_native.CcResponse)()
        with self._options(timeout, operation_timeout, retries, hedging):
            self._call(
                lib.cc_request,
                m,
                p,
                data,
                len(data) if data is not None else 0,
                ctypes.byref(out),
            )
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
        # Node lists and metrics are read locally: nothing to interrupt.
        out = POINTER(_native.CcStringList)()
        code, err = self._invoke(fn, ctypes.byref(out), interruptible=False)
        _native.check(code, err)
        return _native.take_list(out)

    def _text(self, fn: Any) -> str:
        out = c_void_p()
        code, err = self._invoke(fn, ctypes.byref(out), interruptible=False)
        _native.check(code, err)
        return _native.take_string(out)

    # -- the foreign calls --------------------------------------------------

    def _invoke(
        self,
        fn: Callable[..., int],
        *args: object,
        failure: Type[ClusterClientError] = RequestErrorException,
        interruptible: bool = True,
    ) -> Tuple[int, "ctypes._Pointer[_native.CcError]"]:
        """Runs ``fn(handle, *args, &err)`` on the live handle; returns the
        code and the error (which the caller takes). Every foreign call of a
        client goes through here, the one place cancellation plugs in:

        - on the main thread, an ``interruptible`` call (one that talks to
          the nodes) runs on a worker thread with a handle of its own
          (``cc_client_with_cancel``) while this thread waits in 50 ms
          slices, so Ctrl-C is handled at once: the call is cancelled (a
          create rolls back what it made), waited for (at most
          ``_STOP_WAIT_SECONDS``) and the ``KeyboardInterrupt`` re-raised,
          with how the call ended as its ``cluster_client_error``;
        - in a ``cluster_client.aio`` worker, the call observes that task's
          token (``_local.token``): cancelling the task cancels the call;
        - on any other thread (no signal is delivered there) the call runs
          directly.

        An ``interruptible`` call made inside ``_options`` (a method's
        per-call keyword arguments) runs on a handle from
        ``cc_client_with_options``; the cancel handle, when there is one, is
        made from that handle (settings and cancellation compose), which
        is freed as soon as the cancel handle exists (it keeps what it
        needs).
        """
        token: Optional[_CallToken] = getattr(self._local, "token", None)
        options: Optional[_CallOptions] = (
            getattr(self._local, "options", None) if interruptible else None
        )
        if (
            token is None
            and interruptible
            and threading.current_thread() is threading.main_thread()
        ):
            return self._invoke_interruptible(fn, args, failure, options)
        err = POINTER(_native.CcError)()
        handle = self._enter()
        try:
            base = _with_options(handle, options)
            try:
                if token is None:
                    code = fn(base, *args, ctypes.byref(err))
                else:
                    own = token.handle_for(base)
                    try:
                        code = fn(own, *args, ctypes.byref(err))
                    finally:
                        lib.cc_client_free(own)
            finally:
                if base != handle:
                    lib.cc_client_free(base)
        finally:
            self._leave()
        return code, err

    def _invoke_interruptible(
        self,
        fn: Callable[..., int],
        args: Tuple[object, ...],
        failure: Type[ClusterClientError],
        options: Optional[_CallOptions] = None,
    ) -> Tuple[int, "ctypes._Pointer[_native.CcError]"]:
        """``_invoke`` on the main thread: see there."""
        token = _CallToken()
        try:
            handle = self._enter()
        except BaseException:
            token.free()
            raise
        try:
            base = _with_options(handle, options)
            try:
                own = token.handle_for(base)
            finally:
                if base != handle:
                    lib.cc_client_free(base)
        except BaseException:
            token.free()
            self._leave()
            raise
        worker: Optional[_Worker] = None
        try:
            worker = _Worker(fn, args, own, token, self._leave)
            worker.start()
        except BaseException:
            # No thread could start, or Ctrl-C came first: if the call
            # never runs, clean up here (nothing was sent).
            if worker is None:
                lib.cc_client_free(own)
                token.free()
                self._leave()
            elif worker.claim("caller"):
                worker.cleanup()
            else:
                worker.token.cancel()  # it runs already: stop it
            raise
        try:
            worker.wait(None)
        except BaseException as interrupt:  # KeyboardInterrupt, or any signal handler's
            outcome = self._stop(worker, failure)
            interrupt.cluster_client_error = outcome  # type: ignore[attr-defined]
            raise
        if worker.raised is not None:
            raise worker.raised
        assert worker.code is not None and worker.err is not None
        return worker.code, worker.err

    def _stop(
        self, worker: _Worker, failure: Type[ClusterClientError]
    ) -> Optional[ClusterClientError]:
        """Cancels an interrupted call and waits (bounded) for it to stop:
        how it ended (``None`` if it succeeded, or if the wait was given up
        by a second Ctrl-C or after ``_STOP_WAIT_SECONDS``)."""
        if worker.claim("caller"):
            worker.cleanup()  # interrupted before its thread ran: nothing sent
            return None
        worker.token.cancel()
        try:
            stopped = worker.wait(_STOP_WAIT_SECONDS)
        except BaseException:  # a second Ctrl-C: stop waiting
            stopped = False
        if not stopped and worker.abandon():
            log.error(
                "cluster_client: an interrupted call did not stop within %.0f s; "
                "it ends in the background",
                _STOP_WAIT_SECONDS,
            )
            return None
        if worker.code is None or worker.err is None or worker.code == _native.CC_OK:
            if worker.err:
                lib.cc_error_free(worker.err)
            return None
        error = _native.take_error(worker.err, failure)
        log.warning("cluster_client: interrupted call: %s", error.message)
        return error

    def _call(
        self,
        fn: Callable[..., int],
        *args: object,
        failure: Type[ClusterClientError] = RequestErrorException,
        interruptible: bool = True,
    ) -> None:
        """``_invoke``, raising the exception for any code but CC_OK."""
        code, err = self._invoke(fn, *args, failure=failure, interruptible=interruptible)
        _native.check(code, err, failure)


class ClusterManagement:
    """The nodes of a client, their health, pool metrics, answer times and
    hedges."""

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

    def _metrics(self) -> Dict[str, Any]:
        text = self._client._text(lib.cc_metrics_json)
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ClusterClientError(f"unexpected metrics {text!r}")
        return value

    def connection_pool_metrics(self) -> Dict[str, Dict[str, int]]:
        """``{host: {metric name: value}}`` for every node (the names are
        the library's: ``curr_connections``, ``connections_created``, ...)."""
        return {
            host: fields
            for host, fields in self._metrics().items()
            if host not in _NOT_NODES
        }

    def latency(self) -> Dict[str, LatencySummary]:
        """``{host: LatencySummary}``: each node's answer times (count, and
        p50/p90/p99 in seconds)."""
        by_node = self._metrics().get("latency")
        if not isinstance(by_node, dict):
            raise ClusterClientError(f"unexpected latency {by_node!r}")
        try:
            return {
                host: LatencySummary(
                    int(t["count"]),
                    float(t["p50_ms"]) / 1000.0,
                    float(t["p90_ms"]) / 1000.0,
                    float(t["p99_ms"]) / 1000.0,
                )
                for host, t in by_node.items()
            }
        except (KeyError, TypeError, ValueError) as e:
            raise ClusterClientError(f"unexpected latency {by_node!r}") from e

    def hedges(self) -> HedgeCounts:
        """How many hedged reads were sent, and how many answered first
        (zero without ``hedging``)."""
        h: Any = self._metrics().get("hedges")
        try:
            return HedgeCounts(int(h["sent"]), int(h["won"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ClusterClientError(f"unexpected hedges {h!r}") from e

    def prometheus(self) -> str:
        """The Prometheus text exposition of the metrics and node health."""
        return self._client._text(lib.cc_prometheus)


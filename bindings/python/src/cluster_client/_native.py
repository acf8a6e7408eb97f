"""Loading the shared library and declaring the C ABI (``cluster_client.h``)
for ctypes. Nothing here is public.

``ctypes.CDLL`` releases the GIL around every foreign call, so calls from
several threads run in parallel inside the library.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any, Callable, List, Optional, Type

from .exceptions import (
    ClientClosedError,
    ClusterClientError,
    GroupOperationException,
    InvalidInput,
    OperationCancelled,
    RequestErrorException,
)

#: The C ABI version these declarations describe (``CC_ABI_VERSION``).
ABI_VERSION = 5

CC_OK = 0
CC_INVALID_INPUT = 1
CC_OPERATION_FAILED = 2
CC_OTHER = 3
CC_NULL_POINTER = 4
CC_INVALID_UTF8 = 5
CC_PANIC = 6
CC_SHUT_DOWN = 7
CC_CANCELLED = 8

CC_PRESENT = 1
CC_MISSING = 0
CC_UNKNOWN = -1


class CcStringList(Structure):
    _fields_ = [("items", POINTER(c_char_p)), ("len", c_size_t)]

    def to_list(self) -> List[str]:
        if not self.items:
            return []
        return [
            (self.items[i] or b"").decode("utf-8", "replace") for i in range(self.len)
        ]


class CcError(Structure):
    _fields_ = [
        ("code", c_int),
        ("message", c_char_p),
        ("failed_hosts", CcStringList),
        ("rollback_failed_hosts", CcStringList),
        ("possible_orphans", CcStringList),
    ]


class CcResponse(Structure):
    _fields_ = [
        ("status", c_int),
        ("host", c_char_p),
        ("body", c_void_p),
        ("body_len", c_size_t),
    ]


class CcPresence(Structure):
    _fields_ = [("host", c_char_p), ("state", c_int), ("error", c_char_p)]


class CcPresenceList(Structure):
    _fields_ = [("items", POINTER(CcPresence)), ("len", c_size_t)]


_ERR = POINTER(POINTER(CcError))
_LIST_OUT = POINTER(POINTER(CcStringList))

_LIBRARY_NAMES = {
    "darwin": "libcluster_client.dylib",
    "win32": "cluster_client.dll",
}


def _library_path() -> str:
    explicit = os.environ.get("CLUSTER_CLIENT_LIB")
    if explicit:
        return explicit
    name = _LIBRARY_NAMES.get(sys.platform, "libcluster_client.so")
    bundled = Path(__file__).resolve().parent / name
    if bundled.exists():
        return str(bundled)
    raise ImportError(
        f"cluster_client: the shared library {name} is not in {bundled.parent} "
        "(pip install builds it with cargo; an editable install or a copy of "
        "the sources does not): reinstall with pip, or set CLUSTER_CLIENT_LIB "
        "to the path of the library (see the README)"
    )


def _declare(lib: ctypes.CDLL) -> None:
    def fn(name: str, restype: Any, *argtypes: Any) -> None:
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = list(argtypes)

    client = c_void_p
    fn("cc_version", c_char_p)
    fn("cc_abi_version", c_uint32)
    fn("cc_client_new", client, c_char_p, _ERR)
    fn("cc_client_new_from_config", client, c_char_p, _ERR)
    fn("cc_client_new_from_toml", client, c_char_p, _ERR)
    fn("cc_client_shutdown", c_int, client, _ERR)
    fn("cc_client_free", None, client)
    fn("cc_cancel_new", c_void_p)
    fn("cc_cancel", None, c_void_p)
    fn("cc_cancel_free", None, c_void_p)
    fn("cc_client_with_cancel", client, client, c_void_p, _ERR)
    fn("cc_client_with_options", client, client, c_uint64, c_uint64, c_int32, c_int, _ERR)
    fn("cc_client_add_node", c_int, client, c_char_p, _ERR)
    fn("cc_client_remove_node", c_int, client, c_char_p, POINTER(c_int), _ERR)
    fn("cc_client_set_nodes", c_int, client, c_char_p, _ERR)
    fn(
        "cc_request",
        c_int,
        client,
        c_char_p,
        c_char_p,
        c_char_p,
        c_size_t,
        POINTER(POINTER(CcResponse)),
        _ERR,
    )
    fn("cc_response_free", None, POINTER(CcResponse))
    fn("cc_error_free", None, POINTER(CcError))
    fn("cc_create_group", c_int, client, c_char_p, _ERR)
    fn("cc_delete_group", c_int, client, c_char_p, _LIST_OUT, _ERR)
    fn("cc_verify_group", c_int, client, c_char_p, c_char_p, POINTER(c_int), _ERR)
    fn(
        "cc_verify_group_everywhere",
        c_int,
        client,
        c_char_p,
        POINTER(POINTER(CcPresenceList)),
        _ERR,
    )
    fn("cc_presence_list_free", None, POINTER(CcPresenceList))
    for name in ("cc_nodes", "cc_healthy_nodes", "cc_unhealthy_nodes"):
        fn(name, c_int, client, _LIST_OUT, _ERR)
    for name in ("cc_metrics_json", "cc_prometheus"):
        fn(name, c_int, client, POINTER(c_void_p), _ERR)
    fn("cc_string_free", None, c_void_p)
    fn("cc_string_list_free", None, POINTER(CcStringList))


def _load(path: str) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"cluster_client: cannot load {path}: {e}") from e
    try:
        _declare(lib)
    except AttributeError as e:
        raise ImportError(
            f"cluster_client: {path} lacks a function this package needs ({e}); "
            "rebuild the library"
        ) from e
    found = lib.cc_abi_version()
    if found != ABI_VERSION:
        raise ImportError(
            f"cluster_client: {path} implements C ABI {found}, this package needs {ABI_VERSION}"
        )
    return lib


#: The path of the library loaded (``$CLUSTER_CLIENT_LIB`` or the bundled one).
LIBRARY_PATH = _library_path()

lib = _load(LIBRARY_PATH)

#: The version of the loaded library (the Rust crate's).
library_version: str = (lib.cc_version() or b"").decode("utf-8", "replace")


def encode(value: object, what: str) -> bytes:
    """A string argument for C: UTF-8 without NUL bytes (C would cut the
    string at the first NUL, so one is refused rather than sent short)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a str, not {type(value).__name__}", 1)
    if "\0" in value:
        raise InvalidInput(f"{what} {value!r} contains a NUL character", 1)
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidInput(f"{what} {value!r} is not encodable as UTF-8: {e}", 1) from e


def take_error(
    err: "ctypes._Pointer[CcError]",
    failure: Type[ClusterClientError] = RequestErrorException,
) -> ClusterClientError:
    """The exception for a C error (which is freed here)."""
    if not err:
        return ClusterClientError("cluster_client: a call failed without an error", CC_OTHER)
    try:
        e = err.contents
        code = e.code
        message = (e.message or b"").decode("utf-8", "replace")
        failed = e.failed_hosts.to_list()
        rollback = e.rollback_failed_hosts.to_list()
        orphans = e.possible_orphans.to_list()
    finally:
        lib.cc_error_free(err)
    if code in (CC_INVALID_INPUT, CC_NULL_POINTER, CC_INVALID_UTF8):
        return InvalidInput(message, code)
    if code == CC_SHUT_DOWN:
        return ClientClosedError(message, code, failed, rollback, orphans)
    if code == CC_CANCELLED:
        return OperationCancelled(message, code, failed, rollback, orphans)
    if code == CC_OPERATION_FAILED:
        if failure is GroupOperationException:
            return GroupOperationException(message, code, failed, rollback, orphans)
        return RequestErrorException(message, code, failed)
    return ClusterClientError(message, code)


def check(
    code: int,
    err: "ctypes._Pointer[CcError]",
    failure: Type[ClusterClientError] = RequestErrorException,
) -> None:
    """Raises the exception for ``code`` unless it is CC_OK; frees ``err``."""
    if code != CC_OK:
        raise take_error(err, failure)
    if err:
        lib.cc_error_free(err)


def take_string(p: c_void_p) -> str:
    """Copies and frees a string the library returned."""
    if not p.value:
        return ""
    try:
        return ctypes.string_at(p.value).decode("utf-8", "replace")
    finally:
        lib.cc_string_free(p)


def take_list(p: "ctypes._Pointer[CcStringList]") -> List[str]:
    """Copies and frees a string list the library returned."""
    if not p:
        return []
    try:
        return p.contents.to_list()
    finally:
        lib.cc_string_list_free(p)


def new_client(constructor: Callable[..., Optional[int]], arg: bytes) -> int:
    """A client handle, or the exception for the constructor's error."""
    err = POINTER(CcError)()
    handle = constructor(arg, ctypes.byref(err))
    if not handle:
        raise take_error(err)
    if err:
        lib.cc_error_free(err)
    return handle

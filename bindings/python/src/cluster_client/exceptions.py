"""The exceptions of the package: every error of the C library becomes one."""

from __future__ import annotations

import errno
import os
from typing import List, Sequence


class ClusterClientError(Exception):
    """Base of every error this package raises.

    ``code`` is the C ABI's error code (``CC_*``), ``message`` its text.
    """

    def __init__(self, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class InvalidInput(ClusterClientError, ValueError):
    """Refused before anything was sent: a bad host, group id, method, path or
    configuration, or a host that is not a node of the client."""


class ConfigFileNotFoundError(InvalidInput, FileNotFoundError):
    """The configuration file given as ``config`` does not exist. Also a
    ``FileNotFoundError`` (``errno``, ``filename`` set) and an
    ``InvalidInput``: nothing was sent."""

    def __init__(self, filename: str) -> None:
        super().__init__(f"config file {filename} does not exist", 1)
        self.errno = errno.ENOENT
        self.strerror = os.strerror(errno.ENOENT)
        self.filename = filename

    def __str__(self) -> str:
        return self.message


class _HostLists:
    """The three host lists of a group operation (empty when not relevant)."""

    failed_hosts: List[str]
    rollback_failed_hosts: List[str]
    possible_orphans: List[str]

    def _set_hosts(
        self,
        failed_hosts: Sequence[str],
        rollback_failed_hosts: Sequence[str],
        possible_orphans: Sequence[str],
    ) -> None:
        self.failed_hosts = list(failed_hosts)
        self.rollback_failed_hosts = list(rollback_failed_hosts)
        self.possible_orphans = list(possible_orphans)


class ClientClosedError(ClusterClientError, _HostLists):
    """The client was closed (or shut down) before or during the call.

    A group operation that ``close()`` stopped part way names its nodes as
    ``GroupOperationException`` does (a create rolled back what it had made
    first): ``failed_hosts`` (nodes where it did not finish),
    ``rollback_failed_hosts`` (the group is still there) and
    ``possible_orphans`` (outcome unknown: the group may be there). The
    lists are empty for a call refused before it started.
    """

    def __init__(
        self,
        message: str,
        code: int = 7,
        failed_hosts: Sequence[str] = (),
        rollback_failed_hosts: Sequence[str] = (),
        possible_orphans: Sequence[str] = (),
    ) -> None:
        super().__init__(message, code)
        self._set_hosts(failed_hosts, rollback_failed_hosts, possible_orphans)


class OperationCancelled(ClusterClientError, _HostLists):
    """The call was cancelled before or while it ran: by Ctrl-C during a
    blocking call (attached to the ``KeyboardInterrupt`` as its
    ``cluster_client_error``) or by cancelling the task of a
    ``cluster_client.aio`` call (logged; the task ends with
    ``asyncio.CancelledError``).

    A create cancelled part way rolled back what it had made first; the
    host lists say where it stood, as ``GroupOperationException``'s:
    ``failed_hosts``, ``rollback_failed_hosts`` (the group is still there)
    and ``possible_orphans`` (outcome unknown: the group may be there,
    e.g. on a node whose answer the call stopped waiting for). Empty for a
    call cancelled before it started.
    """

    def __init__(
        self,
        message: str,
        code: int = 8,
        failed_hosts: Sequence[str] = (),
        rollback_failed_hosts: Sequence[str] = (),
        possible_orphans: Sequence[str] = (),
    ) -> None:
        super().__init__(message, code)
        self._set_hosts(failed_hosts, rollback_failed_hosts, possible_orphans)


class RequestErrorException(ClusterClientError):
    """A request got no usable answer (the reference client's exception of
    the same name). ``failed_hosts`` names every node tried."""

    def __init__(
        self, message: str, code: int = 2, failed_hosts: Sequence[str] = ()
    ) -> None:
        super().__init__(message, code)
        self.failed_hosts: List[str] = list(failed_hosts)


class GroupOperationException(ClusterClientError):
    """A group operation did not hold on every node (the reference client's
    exception of the same name).

    ``failed_hosts``: nodes where the create (or the delete) failed.
    ``rollback_failed_hosts``: nodes where this create made the group and the
    rollback could not delete it: the group is still there.
    ``possible_orphans``: nodes whose outcome is unknown (a request sent and
    never answered): the group may be there.
    """

    def __init__(
        self,
        message: str,
        code: int = 2,
        failed_hosts: Sequence[str] = (),
        rollback_failed_hosts: Sequence[str] = (),
        possible_orphans: Sequence[str] = (),
    ) -> None:
        super().__init__(message, code)
        self.failed_hosts: List[str] = list(failed_hosts)
        self.rollback_failed_hosts: List[str] = list(rollback_failed_hosts)
        self.possible_orphans: List[str] = list(possible_orphans)


__all__ = [
    "ClusterClientError",
    "InvalidInput",
    "ConfigFileNotFoundError",
    "ClientClosedError",
    "OperationCancelled",
    "RequestErrorException",
    "GroupOperationException",
]

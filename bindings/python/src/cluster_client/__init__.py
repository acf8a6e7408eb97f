"""Drive a cluster of HTTP nodes as one: groups created on every node
all-or-nothing (verified, rolled back on failure), deleted everywhere, with
retries, failover, node health and pool metrics. Python bindings (ctypes)
over the C ABI of the ``cluster-client`` Rust library.

``ClusterClient`` blocks (and is thread-safe); ``cluster_client.aio`` has
the same API as coroutines. The shared library is the one the wheel
bundles (built by cargo at install time), or ``$CLUSTER_CLIENT_LIB`` when
set (see the README).
"""

from ._client import (
    ClusterClient,
    ClusterManagement,
    GroupCreated,
    HedgeCounts,
    LatencySummary,
    NodeResponse,
    UndeletedHosts,
)
from ._native import library_version
from .exceptions import (
    ClientClosedError,
    ClusterClientError,
    ConfigFileNotFoundError,
    GroupOperationException,
    InvalidInput,
    OperationCancelled,
    RequestErrorException,
)

__version__ = "0.1.0"

__all__ = [
    "ClusterClient",
    "ClusterManagement",
    "GroupCreated",
    "HedgeCounts",
    "LatencySummary",
    "NodeResponse",
    "UndeletedHosts",
    "ClusterClientError",
    "ClientClosedError",
    "ConfigFileNotFoundError",
    "GroupOperationException",
    "InvalidInput",
    "OperationCancelled",
    "RequestErrorException",
    "library_version",
]

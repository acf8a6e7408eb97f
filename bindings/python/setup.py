"""The build step that pyproject.toml's metadata cannot say: the wheel
carries the native library, built by cargo from the ``cluster-client`` crate
two directories up, so it is a platform wheel (``py3-none-<platform>``: no
Python extension, the library is loaded with ctypes by any Python 3).

Settings (environment variables, read at build time):

``CLUSTER_CLIENT_CARGO_PROFILE``
    The cargo profile: ``release`` (the default), ``debug`` (fast to build,
    slow to run: for tests), or a custom profile's name.
``CARGO_TARGET_DIR``
    Where cargo builds (as for cargo itself); by default the crate's
    ``target`` folder. Nothing else is written outside this folder's
    ``build/`` and ``src/*.egg-info`` (both git-ignored).
``CARGO``
    The cargo program (default: ``cargo`` on the ``PATH``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
CRATE = HERE.parent.parent
LIBRARY = {"darwin": "libcluster_client.dylib", "win32": "cluster_client.dll"}.get(
    sys.platform, "libcluster_client.so"
)


def _run(cmd: List[str], what: str) -> bytes:
    print(" ".join(cmd), flush=True)
    try:
        return subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    except FileNotFoundError:
        sys.exit(
            f"cluster-client: {cmd[0]} was not found: building the package needs the "
            "Rust toolchain (https://rustup.rs) to build the native library"
        )
    except subprocess.CalledProcessError as e:
        sys.exit(f"cluster-client: {what} failed ({' '.join(cmd)}: exit status {e.returncode})")


def build_library() -> Path:
    """Builds the cdylib with cargo and returns its path."""
    manifest = CRATE / "Cargo.toml"
    if not manifest.is_file():
        sys.exit(
            f"cluster-client: no Cargo.toml in {CRATE}: the package is built from a "
            "checkout of the cluster-client repository (pip install ./bindings/python)"
        )
    cargo = os.environ.get("CARGO", "cargo")
    profile = os.environ.get("CLUSTER_CLIENT_CARGO_PROFILE", "release").strip() or "release"
    if profile == "debug":
        profile = "dev"
    metadata = json.loads(
        _run(
            [cargo, "metadata", "--format-version", "1", "--no-deps", "--manifest-path", str(manifest)],
            "cargo metadata",
        )
    )
    target = Path(metadata["target_directory"])
    _run(
        [
            cargo,
            "rustc",
            "--manifest-path",
            str(manifest),
            "--lib",
            "--features",
            "ffi",
            "--crate-type",
            "cdylib",
            "--profile",
            profile,
        ],
        "cargo build of the native library",
    )
    built = target / ("debug" if profile == "dev" else profile) / LIBRARY
    if not built.is_file():
        sys.exit(f"cluster-client: cargo finished but {built} does not exist")
    return built


class BuildPyWithLibrary(build_py):
    """build_py, then the native library into the package."""

    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            # An in-tree build (pip's default) reuses build/: start the
            # package afresh, so a module deleted from src/ is not shipped.
            shutil.rmtree(Path(self.build_lib) / "cluster_client", ignore_errors=True)
        super().run()
        built = build_library()
        if getattr(self, "editable_mode", False):
            # An editable install imports from src/: the copy goes there
            # (git-ignored).
            dest = HERE / "src" / "cluster_client" / LIBRARY
        else:
            dest = Path(self.build_lib) / "cluster_client" / LIBRARY
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, dest)
        print(f"copied {built} to {dest}", flush=True)


class PlatformWheel(bdist_wheel):
    """A wheel for this platform, any Python 3 (the library is not a Python
    extension: no ABI tag)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


class BinaryDistribution(Distribution):
    """Installed into platlib, tagged for the platform."""

    def has_ext_modules(self) -> bool:
        return True


setup(
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
    distclass=BinaryDistribution,
)

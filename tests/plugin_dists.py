"""Installed-looking plugin distributions in a temporary ``sys.path`` folder.

Each is laid out as pip lays one out (a module plus ``<name>-<version>.dist-info``
with ``METADATA`` and ``entry_points.txt``), so ``importlib.metadata`` finds it
exactly as it finds a real install, in this process and in a subprocess
given the folder in ``PYTHONPATH``.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: A hook implementation providing one driver named ``{name}``.
DRIVER_SOURCE = """
from dxconnect.hookspecs import hookimpl
from dxconnect.whatsapp.simulation import SimulatedDriver


class Driver(SimulatedDriver):
    name = "{name}"

    def start_session(self):
        self.set_status("ready")

    def send_message(self, message):
        self.walk(self.steps(message.message_id, "sent"))


@hookimpl
def dxconnect_whatsapp_drivers():
    return [Driver]
"""


def write_distribution(
    root: Path, distribution: str, module: str, source: str, version: str = "1.0.0"
) -> None:
    """Lay out ``distribution`` providing plugin ``module`` (entry point of the same name)."""
    (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(f"[dxconnect]\n{module} = {module}\n", encoding="utf-8")


@pytest.fixture
def install_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """``install_fake("dxconnect-x", "dxconnect_x", source)``; returns the folder (for PYTHONPATH)."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    modules: list[str] = []

    def install(distribution: str, module: str, source: str, version: str = "1.0.0") -> Path:
        write_distribution(root, distribution, module, source, version)
        modules.append(module)
        return root

    yield install
    for module in modules:
        sys.modules.pop(module, None)

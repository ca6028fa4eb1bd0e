"""Every hook is documented with its exact signature, and exercised by a test."""

from __future__ import annotations

import inspect
import re

import pytest

from dxconnect import hookspecs
from tests.conftest import ROOT

DOCS = ROOT / "docs" / "plugin_hooks.md"
HOOKS = [
    function
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("dxconnect_")
]


def _signature(function) -> str:
    return f"{function.__name__}({', '.join(inspect.signature(function).parameters)})"


def test_hookspecs_are_found():
    assert len(HOOKS) >= 4


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.__name__)
def test_hook_is_documented_with_its_exact_signature(hook):
    headings = re.findall(r"^## (dxconnect_\w+\([^)]*\))$", DOCS.read_text(), re.MULTILINE)
    assert _signature(hook) in headings
    behaviour = ("All results are collected", "All implementations are called")
    assert any(phrase in (hook.__doc__ or "") for phrase in behaviour), "state the call behaviour"


def test_docs_describe_no_hook_that_does_not_exist():
    documented = re.findall(r"^## (dxconnect_\w+)\(", DOCS.read_text(), re.MULTILINE)
    assert sorted(documented) == sorted(hook.__name__ for hook in HOOKS)


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.__name__)
def test_hook_is_implemented_by_a_test_plugin_or_a_shipped_one(hook):
    sources = [*(ROOT / "tests").glob("*.py"), *(ROOT / "plugins").glob("*/dxconnect_*/*.py"),
               *(ROOT / "dxconnect" / "events").glob("*_sink.py")]  # fmt: skip
    implemented = [
        path for path in sources
        if path.name != "test_plugin_hooks_docs.py"
        and re.search(rf"@hookimpl.*\ndef {hook.__name__}\(", path.read_text())
    ]  # fmt: skip
    assert implemented, f"no plugin exercised by the tests implements {hook.__name__}"

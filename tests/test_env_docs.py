"""Every environment variable the code reads is documented, and the documented example is valid.

The variables are found by parsing the source (``ast``), so a variable added later to
``dxconnect/settings.py`` or ``gunicorn.conf.py`` fails this test until it is listed in
``.env.example`` and in README's configuration table.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from dxconnect.settings import SettingsError, load_settings
from tests.deploy_files import ROOT, env_example

#: The modules that read the environment, and the name of the mapping each reads it from.
ENV_READERS = {ROOT / "dxconnect" / "settings.py": "env", ROOT / "gunicorn.conf.py": "environ"}


def _is_env(node: ast.AST, mapping: str) -> bool:
    """``env`` / ``os.environ``, whichever name the module reads the environment through."""
    return (isinstance(node, ast.Name) and node.id == mapping) or (
        isinstance(node, ast.Attribute) and node.attr == mapping
    )


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def variables_read(path: Path, mapping: str) -> set[str]:
    """Names read as ``helper(env, "NAME", ...)``, ``env.get("NAME")`` or ``env["NAME"]``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        name = None
        if isinstance(node, ast.Call) and len(node.args) >= 2 and _is_env(node.args[0], mapping):
            name = _string(node.args[1])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            if node.func.attr == "get" and _is_env(node.func.value, mapping):
                name = _string(node.args[0])
        elif isinstance(node, ast.Subscript) and _is_env(node.value, mapping):
            name = _string(node.slice)
        if name:
            names.add(name)
    return names


def readme_table_variables() -> set[str]:
    """Variables named in the first column of README's configuration table."""
    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return {
        name
        for line in section.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1])
    }


@pytest.fixture(scope="module")
def code_variables() -> set[str]:
    """Every variable the settings and the gunicorn config read."""
    found = set().union(*(variables_read(path, name) for path, name in ENV_READERS.items()))
    # The parser must see the known ones, or it would pass by finding nothing.
    assert {"DXCONNECT_ENV", "SECRET_KEY", "DATABASE_URL", "TRUSTED_PROXY_COUNT"} <= found
    assert {"BIND", "WEB_CONCURRENCY", "GUNICORN_GRACEFUL_TIMEOUT"} <= found
    return found


def test_the_parser_finds_every_way_of_reading_a_variable(tmp_path):
    source = tmp_path / "settings.py"
    source.write_text(
        "def load(env):\n"
        "    a = _int(env, 'ONE', 3)\n"
        "    b = _newhelper(env, 'TWO')\n"
        "    c = env.get('THREE')\n"
        "    d = env['FOUR']\n"
        "    e = other.get('NOT_ENV')\n"
    )
    assert variables_read(source, "env") == {"ONE", "TWO", "THREE", "FOUR"}


def test_every_variable_read_is_in_env_example(code_variables):
    assert code_variables - env_example().keys() == set()


def test_every_variable_read_is_in_the_readme_table(code_variables):
    assert code_variables - readme_table_variables() == set()


def test_env_example_variables_are_all_explained_in_the_readme():
    assert env_example().keys() - readme_table_variables() == set()


def test_env_example_values_are_valid_once_the_secret_is_filled_in():
    active = env_example(optional=False)
    filled = {"SECRET_KEY": "k" * 48, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    # The example ships no usable secret: production refuses to start until each is set.
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings(active)
    with pytest.raises(SettingsError, match="FIELD_ENCRYPTION_KEYS"):
        load_settings({**active, "SECRET_KEY": filled["SECRET_KEY"]})
    settings = load_settings({**active, **filled})
    assert settings.is_production and settings.redis_url == active["REDIS_URL"]
    # The commented defaults are valid values too.
    load_settings({**env_example(optional=True), **filled, "JWT_SECRET_KEY": ""})

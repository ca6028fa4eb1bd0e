"""Readers of the deployment files (Dockerfile, compose files, .env.example) shared by the tests."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
#: The virtualenv's bin folder first, so scripts find its flask, gunicorn and linters.
TOOLS_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


@dataclass
class Stage:
    """One ``FROM`` stage of a Dockerfile: its base, name and instructions in order."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """Arguments of every ``keyword`` instruction of the stage."""
        return [args for key, args in self.instructions if key == keyword]

    def last(self, keyword: str) -> str:
        """Arguments of the stage's last ``keyword`` instruction (the one in force)."""
        found = self.all(keyword)
        assert found, f"no {keyword} in stage {self.name}"
        return found[-1]


def dockerfile_stages(path: Path = ROOT / "Dockerfile") -> list[Stage]:
    """The stages of a Dockerfile, continuation lines joined and comments dropped."""
    logical = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", path.read_text())
    stages: list[Stage] = []
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            base, *name = re.split(r"\s+as\s+", args, flags=re.IGNORECASE)
            stages.append(Stage(base=base, name=name[0] if name else None))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return stages


def exec_form(args: str) -> list[str]:
    """The argv of a JSON (exec) form instruction such as ``CMD ["gunicorn", ...]``."""
    argv = json.loads(args)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), args
    return argv


class ComposeLoader(yaml.SafeLoader):
    """PyYAML loader that understands compose's merge tags ``!reset`` and ``!override``."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    value = {
        yaml.MappingNode: loader.construct_mapping,
        yaml.SequenceNode: loader.construct_sequence,
    }.get(type(node), loader.construct_scalar)(node)
    return {"tag": node.tag, "value": value}


for _tag in ("!reset", "!override"):
    ComposeLoader.add_constructor(_tag, _tagged)


def load_compose(name: str) -> dict[str, Any]:
    """A compose file as written (merge tags as ``{"tag", "value"}``)."""
    return yaml.load((ROOT / name).read_text(), Loader=ComposeLoader)


def env_example(optional: bool = True) -> dict[str, str]:
    """The variables of ``.env.example`` with their values; ``optional``: the ``# NAME=`` ones too."""
    pattern = re.compile(r"^#\s*([A-Z][A-Z0-9_]*)=(.*)$|^([A-Z][A-Z0-9_]*)=(.*)$")
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = pattern.match(line.strip())
        if match and match.group(3):
            found[match.group(3)] = match.group(4)
        elif match and optional:
            found[match.group(1)] = match.group(2)
    return found

"""Runtime and development dependencies are kept apart: a production install (requirements.lock) takes no test
tool, and every dependency pyproject.toml declares is pinned in the lock that installs it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            pins |= _pins(path.parent / line[3:].strip())
        elif "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_key(name)] = version
    return pins


def _declared(specs: list[str]) -> dict[str, str]:
    return {_key(spec.split("==")[0]): spec.split("==")[1] for spec in specs}


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_runtime_dependency_is_pinned_in_the_runtime_lock_at_its_declared_version():
    runtime = _pins(ROOT / "requirements.lock")
    declared = _declared(PROJECT["dependencies"])
    assert {name: runtime.get(name) for name in declared} == declared


def test_the_runtime_lock_holds_no_test_tool():
    runtime = _pins(ROOT / "requirements.lock")
    dev_tools = set(_declared(PROJECT["optional-dependencies"]["dev"]))
    assert dev_tools & set(runtime) == set()
    assert {"pytest", "playwright", "ruff", "moto", "factory-boy", "hypothesis"} & set(runtime) == set()


def test_the_development_lock_adds_the_test_tools_to_the_runtime_pins():
    runtime, development = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-dev.lock")
    declared = _declared(PROJECT["optional-dependencies"]["dev"])
    assert {name: development.get(name) for name in declared} == declared
    assert {name: development[name] for name in runtime} == runtime

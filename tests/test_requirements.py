"""Runtime requirements are separate from development ones (issue 10, item 5): a production install
(`pip install -r requirements.txt`) carries no test tools, linters, Playwright or Radicale, yet every
third-party module the product code imports comes with it."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("configurator", "tenants", "integrations", "scripts_engine", "agents")
DEVELOPMENT_ONLY = {
    "playwright",
    "radicale",
    "ruff",
    "mypy",
    "pytest",
    "pytest-django",
    "pytest-xdist",
    "hypothesis",
    "schemathesis",
    "time-machine",
    "factory-boy",
    "django-stubs",
}


def _pins(name: str) -> set[str]:
    text = (REPO / name).read_text()
    return {
        m.lower().replace("_", "-") for m in re.findall(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==", text, re.M)
    }


def _imported_modules() -> set[str]:
    modules: set[str] = set()
    for package in PRODUCT_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules.add(node.module.split(".")[0])
    return modules - set(PRODUCT_PACKAGES) - set(sys.stdlib_module_names)


def test_the_runtime_requirements_carry_no_development_tools():
    runtime = _pins("requirements.txt")

    assert runtime & DEVELOPMENT_ONLY == set()
    assert DEVELOPMENT_ONLY - {"django-stubs"} <= _pins("requirements-dev.txt")


def test_every_module_the_product_imports_is_a_runtime_requirement():
    runtime = _pins("requirements.txt")
    distributions = packages_distributions()
    missing = {}
    for module in _imported_modules():
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        if not names & runtime:
            missing[module] = sorted(names)
    assert missing == {}


def test_the_development_pins_agree_with_the_runtime_pins():
    def versions(name: str) -> dict[str, str]:
        text = (REPO / name).read_text()
        return {
            m[0].lower().replace("_", "-"): m[1]
            for m in re.findall(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", text, re.M)
        }

    runtime, development = versions("requirements.txt"), versions("requirements-dev.txt")
    assert {
        name: (version, development.get(name))
        for name, version in runtime.items()
        if development.get(name) != version
    } == {}

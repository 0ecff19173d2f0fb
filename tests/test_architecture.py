"""The house's walls (issue 8, item 10), read from the source with `ast`.

- The project package (`configurator/`) and the apps do not import each other's views: the
  screens share the frame through `configurator.frame`, never through a views module.
- `configurator/` keeps settings, URLs, the Celery app and the frame; it defines no models
  (tenants, memberships and API keys live in the tenants app).
- The product code never imports the development tools (`devtools/`: the demo address book
  and the demo seeding commands).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.apps import apps

REPO = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("configurator", "tenants", "integrations", "agents", "scripts_engine")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports: `from a import b` yields "a" and "a.b" (b may be a module)."""
    modules: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            modules.add(base)
            modules.update(f"{base}.{alias.name}" for alias in node.names)
    return modules


def _sources(*packages: str) -> list[Path]:
    return [path for package in packages for path in sorted((REPO / package).rglob("*.py"))]


def _offenders(packages: tuple[str, ...], forbidden: re.Pattern[str]) -> list[str]:
    return [
        f"{path.relative_to(REPO)} imports {module}"
        for path in _sources(*packages)
        for module in sorted(_imports(path))
        if forbidden.search(module)
    ]


def test_the_import_walk_sees_imports_of_every_form() -> None:
    wizard = _imports(REPO / "integrations" / "wizard.py")
    assert "configurator.frame" in wizard  # from configurator.frame import render_page, …
    assert "integrations.ui_helpers" in wizard  # from integrations import ui_helpers as views
    assert "configurator.frame.render_page" in wizard


def test_the_project_package_imports_no_views_of_the_apps() -> None:
    # integrations.overview_views, integrations.pbx.views, tenants.views, agents.views, …
    forbidden = re.compile(r"^(integrations|agents|tenants)(\.\w+)*\.\w*views($|\.)")
    assert _offenders(("configurator",), forbidden) == []


def test_the_apps_import_no_views_of_the_project_package_nor_of_the_tenants_app() -> None:
    forbidden = re.compile(r"^(configurator|tenants)\.views($|\.)")
    assert _offenders(("integrations", "agents"), forbidden) == []


def test_the_project_package_defines_no_models() -> None:
    assert list(apps.get_app_config("configurator").get_models()) == []
    assert not (REPO / "configurator" / "models.py").exists()


def test_the_tenant_models_live_in_the_tenants_app() -> None:
    names = {model.__name__ for model in apps.get_app_config("tenants").get_models()}
    assert names == {"Tenant", "TenantMembership", "TenantAPIKey"}


def test_the_product_code_never_imports_the_development_tools() -> None:
    assert _offenders(PRODUCT_PACKAGES, re.compile(r"^devtools($|\.)|demo_contacts")) == []
    assert not list((REPO / "configurator").rglob("demo_contacts.py"))

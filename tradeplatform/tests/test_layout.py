"""The apps' imports run one way (docs/architecture.md): accounts, marketdata <- strategies
<- subscriptions <- executions <- backtests; the SPA routes (tradeplatform.spa) sit above
them all and no app imports them. Tests may import across (factories, helpers)."""

import ast
from pathlib import Path

from django.conf import settings

FLOORS = {
    "accounts": 1,
    "marketdata": 1,
    "strategies": 2,
    "subscriptions": 3,
    "executions": 4,
    "backtests": 5,
}
# Same floor, one way: a new exchange credential is checked with marketdata's clients.
SIDEWAYS = {("accounts", "marketdata")}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def test_no_app_imports_a_floor_above_or_beside_it():
    root = Path(settings.BASE_DIR)
    wrong = []
    for app, floor in FLOORS.items():
        for path in (root / app).rglob("*.py"):
            if {"tests", "migrations"} & set(path.relative_to(root).parts):
                continue
            for line, module in _imports(path):
                target = module.split(".")[0]
                upward = target in FLOORS and target != app and FLOORS[target] >= floor
                if (upward and (app, target) not in SIDEWAYS) or module.startswith(
                    "tradeplatform.spa"
                ):
                    wrong.append(f"{path.relative_to(root)}:{line} imports {module}")
    assert wrong == []


def test_the_sideways_import_stays_one_way():
    root = Path(settings.BASE_DIR)
    back = [
        f"{path.relative_to(root)}:{line}"
        for path in (root / "marketdata").rglob("*.py")
        for line, module in _imports(path)
        if module.split(".")[0] == "accounts"
    ]
    assert back == []

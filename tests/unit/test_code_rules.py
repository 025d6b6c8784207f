"""The shape rules of the code, checked on every run: handlers stay short and only parse, call a
service and render; each business rule has one home; templates format and never decide."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from portal.settings import PROJECT_ROOT

WEB = sorted((PROJECT_ROOT / "portal" / "web").glob("*.py"))
TEMPLATES = sorted((PROJECT_ROOT / "templates").rglob("*.html"))
HANDLER_MAX_LINES = 15
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "route"}


def _handlers(path: Path) -> list[ast.AsyncFunctionDef | ast.FunctionDef]:
    """Functions decorated as routes (`@get(...)`, `@post(...)`), methods of controllers included."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Name) and target.id in ROUTE_DECORATORS:
                    found.append(node)
    return found


def test_every_handler_is_at_most_fifteen_lines() -> None:
    """Measured from the `def` line to the handler's last line; decorators are not counted."""
    handlers = [(path, node) for path in WEB for node in _handlers(path)]
    assert len(handlers) > 60
    too_long = [
        f"{path.name}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
        for path, node in handlers
        if node.end_lineno - node.lineno + 1 > HANDLER_MAX_LINES
    ]
    assert not too_long, too_long


def test_handlers_neither_commit_nor_catch_nor_parse_by_hand() -> None:
    offences = []
    for path in WEB:
        for node in _handlers(path):
            source = ast.get_source_segment(path.read_text(), node) or ""
            for pattern in (
                r"\.commit\(",
                r"\btry:",
                r"\.isdigit\(",
                r"str\(data\.get",
                r"dict\[str, Any\]",
                r"query_params\(",
            ):
                if re.search(pattern, source):
                    offences.append(f"{path.name}:{node.lineno} {node.name}: {pattern}")
    assert not offences, offences


def test_available_credit_is_computed_in_one_place() -> None:
    places = [
        f"{path}:{n}"
        for path in (PROJECT_ROOT / "portal").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "credit_limit -" in line
    ]
    assert len(places) == 1, places


def test_templates_hold_no_role_names_and_no_date_arithmetic() -> None:
    offences = []
    for template in TEMPLATES:
        for n, line in enumerate(template.read_text().splitlines(), 1):
            if re.search(r"role\.value|\.role\b|[\"'](buyer|account_manager|finance|admin)[\"']", line):
                offences.append(f"{template.relative_to(PROJECT_ROOT)}:{n} role: {line.strip()[:80]}")
            if re.search(r"\.days\b|today\s*[-+]|timedelta", line):
                offences.append(f"{template.relative_to(PROJECT_ROOT)}:{n} date arithmetic: {line.strip()[:80]}")
    assert not offences, offences


def test_templates_build_links_with_url_for() -> None:
    typed = []
    for template in TEMPLATES:
        for n, line in enumerate(template.read_text().splitlines(), 1):
            if re.search(r"""(href|action|hx-get|hx-post|src)=["']/""", line):
                typed.append(f"{template.relative_to(PROJECT_ROOT)}:{n}: {line.strip()[:80]}")
    assert not typed, typed

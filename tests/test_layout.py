"""The package's shape: imports run one way, and the library knows neither the app's widgets
nor the repository's layout."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rbt"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: dict) -> set[str]:
    """rbt modules that ``name`` imports anywhere in its file (in functions too: a lazy import
    is still a dependency)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "rbt"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "rbt":
                continue
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            out |= set(subs) if subs else {base}
    return {m for m in out if m in known and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    known = _modules()
    graph = {}
    for name, path in known.items():
        deps = _imports(name, path, known)
        # a package's __init__ re-exports its modules; a module importing its own package's
        # __init__ for a sibling is an edge to that sibling, so only those edges are dropped
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    assert _cycles(graph) == []


def test_the_cli_is_imported_by_nothing_in_the_library():
    known = _modules()
    for name, path in known.items():
        if not name.startswith("rbt.cli") and name != "rbt.__main__":
            assert not {d for d in _imports(name, path, known) if d.startswith("rbt.cli")}, name


WIDGET_WORDS = re.compile(r"\b(sidebar|tick|untick|click|checkbox|selectbox|expander|"
                          r"in the dashboard)\b", re.IGNORECASE)


def test_the_library_holds_no_widget_wording_and_no_repository_layout():
    for path in PACKAGE.rglob("*.py"):
        if path.parts[-2] == "cli" and path.parent.name == "cli" or path.name == "dashboard.py":
            continue  # the CLI's own words and the command that starts the app
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):  # the messages and labels it produces, not its docstrings
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    id(node) not in docstrings:
                assert not WIDGET_WORDS.search(node.value), (path, node.value[:80])
        text = path.read_text()
        assert "parents[2]" not in text and '"assets"' not in text, path

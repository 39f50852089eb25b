"""Every module of the app imports, whatever is imported first: the module-level imports form no cycle
(so no order can meet a module half-initialised, as pytest's collection order once did), and each module
imports in a fresh interpreter.

The cycle check reads the import graph (grimp, import-linter's engine), without TYPE_CHECKING imports,
which never run: it costs a second where importing each module first, one fresh interpreter state at a
time, cost minutes on a loaded machine."""

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, pkgutil, traceback
import webapp
names = sorted(m.name for m in pkgutil.walk_packages(webapp.__path__, "webapp."))
failed = []
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ":\\n" + traceback.format_exc(limit=-3))
print(len(names))
print("\\n".join(failed))
"""


def cycles(graph) -> list[list[str]]:
    """The graph's import cycles: its strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_module_level_imports_form_no_cycle():
    graph = grimp.build_graph("webapp", exclude_type_checking_imports=True, cache_dir=None)
    assert len(graph.modules) > 50
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    graph = grimp.ImportGraph()
    for importer, imported in (("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")):
        graph.add_import(importer=importer, imported=imported)
    assert cycles(graph) == [["a", "b", "c"]]


def test_every_module_imports():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    count, _, failed = result.stdout.partition("\n")
    assert int(count) > 50 and failed.strip() == "", failed

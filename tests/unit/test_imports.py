"""Every module of the app imports on its own, first: a circular import shows up whatever a test,
a worker or a server happens to import first (pytest's collection order once hid one)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, pkgutil, sys, traceback
import webapp
names = sorted(m.name for m in pkgutil.walk_packages(webapp.__path__, "webapp."))
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m == "webapp" or m.startswith("webapp.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ":\\n" + traceback.format_exc(limit=-3))
print(len(names))
print("\\n".join(failed))
"""


@pytest.mark.slow
def test_every_module_imports_first():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    count, _, failed = result.stdout.partition("\n")
    assert int(count) > 50 and failed.strip() == "", failed

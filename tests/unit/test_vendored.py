"""The vendored front-end files: each recorded in static/vendor/VERSIONS, and the test-only one unused by pages."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor"


def test_every_vendored_package_is_recorded_with_its_license():
    versions = (VENDOR / "VERSIONS").read_text()
    for folder in (p for p in VENDOR.iterdir() if p.is_dir()):
        assert folder.name in versions, f"{folder.name} is missing from static/vendor/VERSIONS"
        assert list(folder.glob("LICENSE*")), f"{folder} has no LICENSE"


def test_no_page_loads_axe_core():
    """axe-core is for the browser tests (tests/browser/axe.py injects it), not for users."""
    for template in (ROOT / "templates").rglob("*.html"):
        assert "axe.min.js" not in template.read_text(), template
    for script in (ROOT / "static" / "js").glob("*.js"):
        assert "axe.min.js" not in script.read_text(), script

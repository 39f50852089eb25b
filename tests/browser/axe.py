"""axe-core in the browser tests: inject the vendored script into a page and report what it finds.

The script is test-only: no template links it, and the page's CSP would refuse the injected tag, so
the contexts that use this run with bypass_csp=True.
"""

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe-core" / "axe.min.js"
SEVERE = ("serious", "critical")


def violations(page) -> list[dict]:
    """axe's serious and critical violations on the page as it is now (WCAG 2.x A/AA and best practice)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations")
    return [violation for violation in found if violation["impact"] in SEVERE]


def describe(url: str, found: list[dict]) -> str:
    """Each violation's id, impact, help and target nodes: what a failing test prints."""
    lines = [f"{url}:"]
    for violation in found:
        lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']} — {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"    {' '.join(node['target'])}: {node.get('failureSummary', '').replace(chr(10), ' ')}")
    return "\n".join(lines)


def assert_accessible(page) -> None:
    """Fail with axe's report when the page has a serious or critical violation."""
    found = violations(page)
    assert not found, describe(page.url, found)

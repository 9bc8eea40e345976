"""Mermaid exports render: mermaid itself (from npm) draws them in headless Chromium, and every id,
name and purpose is in the drawing, however odd."""

from __future__ import annotations

import pytest

from registry.exports import export
from tests.browser import ROOT
from graph.embedded import EmbeddedStore
from registry.cli import DEMO
from registry.service import Registry
from tests.test_exports import COUNTRIES, ODD

MERMAID = ROOT / "registry" / "web" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"


def render_mermaid(tab, text: str) -> str:
    """The SVG mermaid draws for `text`, in the browser; a syntax error fails."""
    tab.set_content("<html><body></body></html>")
    tab.add_script_tag(path=str(MERMAID))
    return tab.evaluate("""async (text) => {
        mermaid.initialize({startOnLoad: false, maxTextSize: 1000000, securityLevel: 'strict'});
        await mermaid.parse(text);
        const {svg} = await mermaid.render('lineage', text);
        return svg;
    }""", text)


def svg_text(tab, svg: str) -> str:
    tab.set_content(f"<html><body>{svg}</body></html>")
    return tab.inner_text("body")


@pytest.mark.parametrize("bundle", [DEMO.read_text(), ODD], ids=["demo", "odd-ids"])
def test_mermaid_renders_in_the_browser_with_every_id_and_label(tmp_path, bundle, page):
    registry = Registry(EmbeddedStore(tmp_path / "registry.db"))
    registry.load([("bundle", bundle)], actor="test")
    text = export(registry, "mermaid", COUNTRIES)
    shown = svg_text(page.tab, render_mermaid(page.tab, text))
    for kind in ("system", "party"):
        for doc in registry.list(kind):
            assert doc["id"] in shown and doc["name"] in shown, doc["id"]
    for flow in registry.list("flow"):
        assert flow["purpose"] in shown
    assert not page.errors

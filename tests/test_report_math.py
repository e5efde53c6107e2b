"""Formulas on the pages: every catalogue formula and the LaTeX sympy writes for every primitive of
the expression language drawn by mathtext as SVG, or shown as text for a known reason."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from actlab.catalogue import entries
from actlab.catalogue import expr as E
from actlab.report._math import drawn, formula_html

# What mathtext cannot draw, and why a formula may therefore be shown as its LaTeX source.
KNOWN = {
    "environment (sympy's piecewise cases)": re.compile(r"Unknown symbol: \\begin"),
    "a $ in the formula": re.compile(r"a \$ inside the formula"),
}


def _svg(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag.endswith("svg") and float(root.get("width").removesuffix("pt")) > 3
    text = data.decode()
    assert "<path" in text and "<text" not in text and "<script" not in text  # glyphs as paths, nothing to run
    assert not re.search(r'href="(?!#)', text)  # nothing fetched from elsewhere
    return root


def _reason(why: str) -> str | None:
    return next((name for name, pattern in KNOWN.items() if pattern.search(why)), None)


def test_every_catalogue_formula_is_drawn():
    fallbacks = {}
    for e in entries():
        svg, why = drawn(e.formula)
        if svg is None:
            fallbacks[e.name] = why
        else:
            _svg(svg)
    assert {name: _reason(why) for name, why in fallbacks.items() if _reason(why) is None} == {}
    assert len(fallbacks) == 0, fallbacks  # none of the catalogue's formulas falls back today


def test_sympy_formulas_of_every_primitive_are_drawn_or_fall_back_for_a_known_reason():
    texts = [f"{n}(x)" for n, p in E.PRIMITIVES.items() if p.arity == 1]
    texts += [f"{n}(x, 0.5 * x - 1)" for n, p in E.PRIMITIVES.items() if p.arity == 2]
    latex = {t: [E.simplified(E.parse(t))["latex"], E.latex(E.parse(t))] for t in texts}
    fallbacks = {}
    for text, forms in latex.items():
        for tex in forms:
            svg, why = drawn(tex)
            if svg is None:
                fallbacks[text] = _reason(why)
            else:
                _svg(svg)
    assert None not in fallbacks.values(), fallbacks
    assert list(fallbacks) == ["hardshrink(x)"], fallbacks  # piecewise in sympy; the rest draws


def test_a_formula_mathtext_cannot_read_is_shown_as_its_escaped_latex():
    cases = r"\begin{cases} x & \text{for}\: x > 0 \\ 0 & \text{otherwise} \end{cases} < 1"
    assert _reason(drawn(cases)[1]) is not None
    shown = formula_html(cases)
    assert shown.startswith('<code class="latex">') and "&lt; 1" in shown and "<img" not in shown
    assert formula_html("x $ y").startswith('<code class="latex">')


def test_a_drawn_formula_is_an_embedded_svg_the_same_every_time(tmp_path):
    first = drawn.__wrapped__(r"x \tanh(\mathrm{softplus}(x))")[0]
    assert first == drawn.__wrapped__(r"x \tanh(\mathrm{softplus}(x))")[0]  # the page does not change on a rerun
    shown = formula_html(r"\frac{x}{1 + |x|}", alt="softsign <x>")
    assert shown.startswith('<img class="math" alt="softsign &lt;x&gt;"') and "data:image/svg+xml;base64," in shown
    linked = formula_html(r"\max(0, x)", file=tmp_path / "relu.svg", src="img/relu.svg")
    assert 'src="img/relu.svg"' in linked
    _svg((tmp_path / "relu.svg").read_bytes())


@pytest.mark.parametrize("latex", [r"\frac{1}{1 + e^{-x}}", r"x \, \sigma(x)"])
def test_fractions_are_drawn_in_display_style(latex):
    """A formula on a line of its own: a fraction as tall as two lines of text, not squeezed."""
    height = float(_svg(drawn(latex)[0]).get("height").removesuffix("pt"))
    assert height > (24 if "frac" in latex else 8)  # a squeezed fraction: 19 pt

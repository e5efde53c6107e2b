"""Reports as a person sees them: real compare, search, evolve and screen runs on iris and the
gallery, then every figure measured at the size its page shows it (text, legends, series, names
beside points, markers inside their axes), and the pages laid out by headless Chromium (table
cells on one line, formulas under their expressions, nothing wider than a 1280 px window)."""

from __future__ import annotations

import html
import json
import re

import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

from actlab.catalogue import entries
from actlab.report._style import MARKERS, PALETTE, style
from actlab.report.compare import write_report
from actlab.report.evolve import write_evolve_report
from actlab.report.gallery import build_gallery
from actlab.report.screen import write_screen_report
from actlab.report.search import write_search_report
from actlab.studies.compare import CompareConfig, run_compare
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.run import run_evolution
from actlab.studies.screen import ScreenConfig, run_screen
from actlab.studies.search import SearchConfig
from actlab.studies.search.run import run_search
from actlab.surrogate import Task, feature_points
from actlab.training import TrainConfig

TWELVE = [
    "relu",
    "tanh",
    "selu",
    "elu",
    "gelu",
    "mish",
    "silu",
    "sigmoid",
    "softsign",
    "softplus",
    "hard_sigmoid",
    "leaky_relu",
]
PAGE_PAD, PAGE_MAX = 48, 1200  # the reports' body: max-width 1200px, 24px padding on each side
# a search over five slots with the longest names: its final table must still fit the page
LONG_NAMES = [
    "hard_sigmoid_torch",
    "leaky_relu_keras",
    "sigmoid_derivative",
    "generalized_swish",
    "expr:max(x, x*tanh(x))",
]


def _measure(fig: Figure, dpi: float) -> dict:
    """What a reader gets from a written figure: its width in pixels, its smallest text, its
    legends' overlap with any plotting area, each legend's marked entries as (colour, marker)."""
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    areas = [ax.get_window_extent() for ax in fig.findobj(Axes) if ax.get_visible() and ax.axison]
    overlaps, entries = [], []
    for leg in fig.findobj(Legend):
        box = leg.get_window_extent()
        for area in areas:
            cut = Bbox.intersection(box, area)
            if cut is not None and cut.width * cut.height > 1:
                overlaps.append(leg.get_texts()[0].get_text())
        entries.append(
            [
                (line.get_color(), line.get_marker())
                for line in leg.findobj(Line2D)
                if str(line.get_marker()).lower() not in ("none", "_", "|")
            ]
        )  # not error-bar caps
    title = (
        fig._suptitle.get_text() if fig._suptitle else next((ax.get_title() for ax in fig.axes if ax.get_title()), "")
    )
    return {
        "title": title,
        "width_px": fig.get_figwidth() * dpi,
        "dpi": dpi,
        "smallest_pt": min(t.get_fontsize() for t in texts),
        "legend_overlaps": overlaps,
        "legends": entries,
        "names": len(fig.findobj(Annotation)),
        "crowded": _crowded(fig),
        "clipped": _clipped(fig),
    }


def _crowded(fig: Figure) -> list[str]:
    """Names beside points that overlap one another, a title, an axis label or a legend, or
    that stick out of their axes."""
    renderer = fig.canvas.get_renderer()
    names = [(t.get_text(), t.get_window_extent(renderer), t.axes) for t in fig.findobj(Annotation) if t.get_visible()]
    fixed = [
        t.get_window_extent(renderer)
        for ax in fig.axes
        for t in (ax.title, ax.xaxis.label, ax.yaxis.label)
        if t.get_visible() and t.get_text()
    ]
    fixed += [leg.get_window_extent(renderer) for leg in fig.findobj(Legend)]
    out = []
    for i, (text, box, ax) in enumerate(names):
        frame = ax.get_window_extent(renderer)
        if box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0 or box.y1 > frame.y1:
            out.append(f"{text} sticks out of its axes")
        for other in [b for _, b, _ in names[i + 1 :]] + fixed:
            cut = Bbox.intersection(box, other)
            if cut is not None and cut.width * cut.height > 1:
                out.append(f"{text} overlaps")
    for ax in fig.axes:  # a title wider than its axes runs into a legend beside it
        if ax.get_title():
            title = ax.title.get_window_extent(renderer)
            out += [
                f"title {ax.get_title()!r} overlaps a legend"
                for leg in fig.legends
                if Bbox.intersection(title, leg.get_window_extent(renderer)) is not None
            ]
    return out


def _clipped(fig: Figure) -> list[str]:
    """Markers of scatter plots and of lines without a line (error bars' points) that the axes'
    frame cuts: a point must lie inside its axes by its marker's radius."""
    px, out = fig.dpi / 72, []
    for ax in fig.axes:
        frame = ax.get_window_extent()
        marks = [
            (c.get_offsets(), (c.get_sizes().max() ** 0.5) / 2 if len(c.get_sizes()) else 0)
            for c in ax.collections
            if isinstance(c, PathCollection) and c.get_visible()
        ]
        marks += [
            (line.get_xydata(), line.get_markersize() / 2)
            for line in ax.lines
            if line.get_visible() and line.get_linestyle() == "None" and line.get_marker() not in ("None", "", None)
        ]
        for xy, radius in marks:
            for u, v in ax.transData.transform(xy):
                r = radius * px
                if not (frame.x0 + r - 1 <= u <= frame.x1 - r + 1 and frame.y0 + r - 1 <= v <= frame.y1 - r + 1):
                    out.append(f"{ax.get_title()[:40]!r}: a marker at ({u:.0f}, {v:.0f}) px")
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Three real studies, their reports written; every figure written is measured on the way."""
    root = tmp_path_factory.mktemp("reports")
    figures: list[dict] = []
    save = Figure.savefig

    def measured_save(fig, fname, *args, **kwargs):
        save(fig, fname, *args, **kwargs)
        if kwargs.get("format") != "svg":  # formulas: drawn at their natural size inside the page text
            figures.append(_measure(fig, kwargs.get("dpi") or fig.dpi))

    train = TrainConfig(epochs=2, patience=None, monitor="val_accuracy", threads=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", measured_save)
        res = run_compare(
            CompareConfig(dataset="iris", activations=TWELVE, seeds=2, train=train), root / "c", progress=False
        )
        res["feature_map"] = feature_points(
            Task("iris"), [(r["activation"], r["activation"], r["mean"]) for r in res["summary"]]
        )
        write_report(res, root / "c")  # with the map of --map
        res = run_search(
            SearchConfig(
                dataset="iris",
                layers=5,
                candidates=LONG_NAMES,
                trials=3,
                top_k=2,
                final_seeds=2,
                pruner="none",
                train=train,
            ),
            root / "s",
            progress=False,
        )
        write_search_report(res, root / "s")
        res = run_evolution(
            EvolveConfig(
                dataset="iris",
                population=4,
                generations=1,
                final_seeds=2,
                final_epochs=2,
                catalogue=["elu"],
                hall_of_fame=2,
                train=train,
            ),
            root / "e",
            progress=False,
        )
        write_evolve_report(res, root / "e")
        res = run_screen(
            ScreenConfig(dataset="iris", seeds=1, train_top=4, train_random=3, train=train),
            root / "sc",
            progress=False,
            say=lambda text: None,
        )  # every catalogue function on the map
        write_screen_report(res, root / "sc")
        build_gallery(root / "g", kinds=["learnable"], progress=False)  # the longest formulas
    return root, figures


def test_every_figure_is_drawn_and_its_text_readable_at_800_and_1280_px(reports):
    _, figures = reports
    titles = " | ".join(f["title"] for f in figures)
    for part in (
        "Train vs validation",
        "Time vs accuracy",
        "Per-slot diagnostics",
        "Optimisation history",
        "Which activation wins",
        "Fitness per generation",
        "next to ReLU",
        "hall of fame",
        "Final evaluation",
    ):
        assert part in titles, titles
    for window in (800, 1280):
        shown = min(window, PAGE_MAX) - PAGE_PAD
        for f in figures:
            px = f["smallest_pt"] * f["dpi"] / 72 * min(1.0, shown / f["width_px"])
            assert px >= 9.0, (window, f["title"], round(px, 1))  # heatmap numbers were 6.8 px before


def test_legends_stay_off_the_data(reports):
    _, figures = reports
    assert sum(len(f["legends"]) for f in figures) >= 6
    assert [f["title"] for f in figures if f["legend_overlaps"]] == []


def test_names_beside_points_stay_apart_and_markers_inside_their_axes(reports):
    _, figures = reports
    named = {f["title"]: f["names"] for f in figures if f["names"]}
    assert any("Predicted vs real" in t for t in named) and any("Functions by their features" in t for t in named)
    assert sum(named.values()) >= 10, named  # the crowded screen map still names many points
    assert [(f["title"], f["crowded"]) for f in figures if f["crowded"]] == []
    assert [(f["title"], f["clipped"]) for f in figures if f["clipped"]] == []


def test_twelve_activations_get_twelve_different_looks(reports):
    _, figures = reports
    legend = next(f for f in figures if f["title"] == "Time vs accuracy")["legends"][0]
    assert len(legend) == 12 and len(set(legend)) == 12
    assert len({colour for colour, _ in legend}) == 12  # colours alone already differ


def test_series_styles_repeat_only_after_126():
    looks = [(s["color"], s["marker"], s["linestyle"]) for s in map(style, range(200))]
    assert len(set(looks[: len(PALETTE) * len(MARKERS)])) == len(PALETTE) * len(MARKERS) == 126
    assert len({s["color"] for s in map(style, range(len(PALETTE)))}) == len(PALETTE) == 18
    assert {s["linestyle"] for s in map(style, range(18, 36))} == {"--"}  # lines past 18 colours: dashed


def test_accuracy_intervals_in_results_and_pages_stay_in_zero_one(reports):
    root, _ = reports
    rows = [
        *json.loads((root / "c" / "results.json").read_text())["summary"],
        *json.loads((root / "s" / "results.json").read_text())["final"]["configs"],
        *json.loads((root / "e" / "results.json").read_text())["final"]["contenders"],
    ]
    assert all(0.0 <= r["ci_low"] <= r["mean"] <= r["ci_high"] <= 1.0 for r in rows)
    for study in ("c", "s", "e"):
        page = (root / study / "report.html").read_text()
        assert "95% CI: Student-t interval of the mean over seeds; for accuracies it is clipped to [0, 1]" in page
        cells = re.findall(r"\[(-?[\d.]+), (-?[\d.]+)\]</td>", page)
        assert cells and all(0 <= float(lo) <= float(hi) <= 1 for lo, hi in cells), study
        assert "1 seeds" not in page and "1 epochs" not in page and "1 trials" not in page


# Appended to a copy of a page: after load, the lines each table cell takes and where each drawn
# formula sits, written into the DOM that --dump-dom prints.
MEASURE = """<script>window.addEventListener("load", () => {
  const lines = el => { const r = document.createRange(); r.selectNodeContents(el);
    return new Set([...r.getClientRects()].filter(b => b.width > 0).map(b => Math.round(b.top))).size; };
  const wrapped = [...document.querySelectorAll("td")].filter(td => !td.classList.contains("left") && lines(td) > 1)
    .map(td => td.textContent);
  const formulas = [...document.querySelectorAll("#hof .formula img")].map(img => {
    const expr = img.closest(".slot").querySelector("code.expr").getBoundingClientRect();
    const cell = img.closest("td").getBoundingClientRect(), pic = img.getBoundingClientRect();
    return {below: pic.top >= expr.bottom - 1, aligned: Math.abs(pic.left - expr.left) < 40,
            inside: pic.top >= cell.top && pic.bottom <= cell.bottom, height: pic.height};
  });
  document.body.setAttribute("data-measured", JSON.stringify({wrapped, formulas}));
});</script>"""


def _laid_out(chromium, page, tmp_path, width: int) -> dict:
    copy = tmp_path / f"{page.parent.name}-{width}.html"
    copy.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    r = chromium(copy.as_uri(), "--dump-dom", f"--window-size={width},900")
    assert r.returncode == 0, r.stderr[-500:]
    found = re.search(r'data-measured="([^"]*)"', r.stdout)
    assert found, r.stdout[-500:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_pages_in_chromium_keep_cells_on_one_line_and_formulas_under_their_expressions(reports, chromium, tmp_path):
    root, _ = reports
    for study in ("c", "e"):  # 800 px: the narrowest common window, where cells wrapped before (search: the same CSS)
        m = _laid_out(chromium, root / study / "report.html", tmp_path, 800)
        assert m["wrapped"] == [], study  # e.g. "[0.413, 0.987]" on two lines before
        if study == "e":
            f = m["formulas"]
            assert f and all(x["below"] and x["aligned"] and x["inside"] and x["height"] > 8 for x in f), f


# Appended to a copy of a page: how wide the page is, every box whose content is wider than the box
# (a table behind a scrollbar), and the drawn formulas, written into the DOM that --dump-dom prints.
OVERFLOW = """<script>window.addEventListener("load", () => {
  const hidden = [...document.querySelectorAll("body *")].filter(el => {
    const o = getComputedStyle(el).overflowX;
    return o !== "visible" && el.scrollWidth > el.clientWidth + 1;
  }).map(el => `${el.tagName} ${el.id || el.className}: ${el.scrollWidth} px in ${el.clientWidth} px`);
  const math = [...document.querySelectorAll("img.math")].map(img => img.naturalWidth > 0 && img.height > 8);
  document.body.setAttribute("data-measured", JSON.stringify(
    {page: document.documentElement.scrollWidth, window: window.innerWidth, hidden, math}));
});</script>"""


def test_every_report_fits_a_1280_px_window(reports, chromium):
    """No page scrolls sideways and no table hides a column behind a scrollbar at 1280 px: the
    compare report with its map, a search over five slots of long names, the evolution, the
    screen of the whole catalogue and the gallery; their formulas are drawn."""
    root, _ = reports
    for page in ("c/report.html", "s/report.html", "e/report.html", "sc/report.html", "g/index.html"):
        copy = (root / page).with_name("measured-1280.html")  # beside the page: the gallery links its images
        copy.write_text((root / page).read_text().replace("</body>", OVERFLOW + "</body>"))
        r = chromium(copy.as_uri(), "--dump-dom", "--window-size=1280,900")
        assert r.returncode == 0, r.stderr[-500:]
        found = re.search(r'data-measured="([^"]*)"', r.stdout)
        assert found, (page, r.stdout[-500:])
        m = json.loads(html.unescape(found.group(1)))
        assert m["window"] == 1280 and m["page"] <= 1280, (page, m)
        assert m["hidden"] == [], (page, m["hidden"])
        assert all(m["math"]), (page, m["math"])
        if page.startswith("g/"):
            assert len(m["math"]) == len([e for e in entries() if e.kind == "learnable"])

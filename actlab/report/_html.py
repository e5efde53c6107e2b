"""The pieces every report page shares: the page's CSS, numbers as the tables show them,
figures written and embedded, the footer's note on convergence and the map of the functions."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from actlab._io import finite, write_file_atomic
from actlab.report._style import DPI, pyplot
from actlab.report.plots import draw_feature_map
from actlab.stats import NOT_CONVERGED, format_p

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;
padding:0 24px 40px;color:#222}
h1{margin:18px 0 4px}p.sub{color:#556;margin:0 0 14px}table{border-collapse:collapse;font-size:13px;margin:8px 0 18px}
th,td{padding:4px 10px;border-bottom:1px solid #dde;text-align:right}th{background:#eef1f4}td{white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%;margin:8px 0 18px}.scroll table{margin:0}
td:first-child,th:first-child{text-align:left;font-family:monospace}.better{color:#070;font-weight:bold}
.worse{color:#a00;font-weight:bold}img{max-width:100%;border:1px solid #eee;margin:6px 0 18px}
pre{background:#f5f5f7;padding:10px;font-size:12px;overflow:auto}details{margin:10px 0}
"""


def _save(fig, path: Path) -> Path:
    """Lay out (unless the figure has its own layout engine), write at ``DPI`` (atomically:
    processes sharing an --out may write it at once) and close a figure."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    write_file_atomic(path, lambda tmp: fig.savefig(tmp, dpi=DPI))
    pyplot().close(fig)
    return path


def _n(count: int, word: str) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _f(v: float, fmt: str = ".3f") -> str:
    return format(float(v), fmt) if finite(v) else "n/a"


_pv = format_p  # the report's short name


def convergence_note(note: str | None, outcomes) -> str:
    """The footer's sentence on the verdict ``not converged`` (HTML), where one of ``outcomes`` is."""
    return f" {html.escape(note)}." if note and NOT_CONVERGED in outcomes else ""


def feature_map_section(fmap: dict[str, Any] | None, path: Path, label: str) -> str:
    """The map of the functions in the surrogate's features (``--map``), or nothing."""
    if not fmap:
        return ""
    if not fmap["points"]:
        return f"<h2>Map of the functions</h2><p>{html.escape(fmap['note'])}</p>"
    img = draw_feature_map(fmap["points"], path, label)
    return (
        f"<h2>Map of the functions</h2><p class='sub'>Each function at its place in the {html.escape(fmap['note'])}, "
        f"coloured by {html.escape(label)}: functions close together behave alike at initialisation.</p>"
        f"{_img(img, 'functions in the feature embedding')}"
    )

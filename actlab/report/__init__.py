"""Reports: plots, the gallery page and each study's page (``actlab.report.compare``, ``.evolve``,
``.search``, ``.screen``)."""

from actlab.report.gallery import build_gallery
from actlab.report.plots import CurveData, curve_data, draw_entry, draw_many

__all__ = ["CurveData", "build_gallery", "curve_data", "draw_entry", "draw_many"]

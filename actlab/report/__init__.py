"""Reports: plots, the gallery page and (later) comparison reports."""

from .gallery import build_gallery
from .plots import CurveData, curve_data, draw_entry, draw_many

__all__ = ["CurveData", "build_gallery", "curve_data", "draw_entry", "draw_many"]

"""Drawings a person reads at a glance (:mod:`.draw`) and the report pages of an evaluation (:mod:`.report`)."""

from .draw import PALETTE, attention_sheet, colour, coloured_text_html, draw, text_colour
from .report import write_report_pages

__all__ = ["PALETTE", "attention_sheet", "colour", "coloured_text_html", "draw", "text_colour", "write_report_pages"]

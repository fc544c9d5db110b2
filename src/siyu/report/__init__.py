"""The period report: every metric family of one period in one formatted workbook
(``siyu report --period P --out FILE.xlsx``). The numbers come from :mod:`siyu.models` as the
``siyu metrics`` commands show them; :mod:`siyu.report.xlsx` does the formatting."""

from siyu.report.service import SHEET_NAMES, check_out, write_report

__all__ = ["write_report", "check_out", "SHEET_NAMES"]

"""``c2 view``: browse runs' continuations, verdicts and scores in one self-contained HTML file, and label them.

:func:`build_report` gathers results directories and label files (:mod:`c2kit.view.collect`) and writes the
report (:mod:`c2kit.view.report`, template ``template.html`` with its CSS and script inline).
"""

from .collect import build_view_data
from .report import Report, build_report, read_report_data, render_html

__all__ = ["Report", "build_report", "build_view_data", "read_report_data", "render_html"]

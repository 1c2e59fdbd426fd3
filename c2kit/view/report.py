"""Write the self-contained HTML report: the template with the view data gzip-compressed and base64-embedded.

The browser inflates the data with ``DecompressionStream`` and renders one page of items at a time, so a full
C2-Eval run (500 items x 8 k x 20 paths = 80,000 continuations) stays a few megabytes and opens in a second or
two. Nothing is fetched: CSS, script and data are inside the one file, and the plots are drawn as inline SVG.

Runs' files are data, never code: the data sits base64-encoded in a ``<script>`` block of a type that does not
run (no ``</script>`` or ``<!--`` in it can end the block), the page's script inserts every value as text, and
the report's Content-Security-Policy runs only its own script and style (by their SHA-256), loads nothing, and
refuses HTML strings (Trusted Types), so even a future slip in the script could not run markup from a run.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from c2kit.errors import UserError
from c2kit.jsonio import write_bytes

from .collect import build_view_data

PLACEHOLDER = "__C2_DATA__"
POLICY_PLACEHOLDER = "__C2_POLICY__"
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)  # the page's one script (the data block has a type)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_EMBEDDED = re.compile(rb'<script id="c2-data" type="application/octet-stream">([A-Za-z0-9+/=]*)</script>')


@dataclass(frozen=True)
class Report:
    """What was written: the file, its size and how much it holds."""

    path: Path | None
    html: bytes
    n_paths: int
    n_items: int
    n_columns: int
    blind: dict[str, Any] | None = None  # a labelling sample opened blind: its plan's figures (collect.py)

    @property
    def megabytes(self) -> float:
        return len(self.html) / 1e6


def render_html(data: Mapping[str, Any], *, clean_text: Callable[[str], str] | None = None) -> bytes:
    """The report's bytes for view data from :func:`build_view_data`; ``clean_text`` may rewrite the JSON text
    first (e.g. replace local paths before publishing)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if clean_text is not None:
        text = clean_text(text)
    payload = json.loads(text)
    # Labels kept in the browser belong to one report's paths: key them by its content.
    payload["report_id"] = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    packed = base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")
    template = resources.files("c2kit.view").joinpath("template.html").read_text(encoding="utf-8")
    head, tail = template.replace(POLICY_PLACEHOLDER, content_policy(template)).split(PLACEHOLDER)
    return (head + packed + tail).encode("utf-8")


def content_policy(template: str) -> str:
    """The report's Content-Security-Policy: its one inline script and style run by their hashes; nothing else
    runs (no other script, no inline event handler or style attribute) or loads (no image, font, frame or
    connection), and the script cannot insert HTML strings (Trusted Types, where the browser has them)."""
    (script,), (style,) = _SCRIPT.findall(template), _STYLE.findall(template)
    return "; ".join(("default-src 'none'", f"script-src {_sha256(script)}", f"style-src {_sha256(style)}",
                      "base-uri 'none'", "form-action 'none'", "require-trusted-types-for 'script'",
                      "trusted-types 'none'"))


def _sha256(text: str) -> str:
    """A CSP hash source: the SHA-256 of the element's text as the page holds it (UTF-8), base64."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def read_report_data(html: bytes) -> dict[str, Any]:
    """The view data embedded in a report written by :func:`render_html` (to check or reuse a report)."""
    found = _EMBEDDED.search(html)
    if found is None:
        raise UserError("not a c2 view report: no embedded data")
    return json.loads(gzip.decompress(base64.b64decode(found.group(1))))


def build_report(inputs: Sequence[str | Path], out: str | Path | None = None, *, title: str | None = None,
                 clean_text: Callable[[str], str] | None = None) -> Report:
    """Build the report of ``inputs`` (results directories and label files) and write it to ``out``."""
    data = build_view_data(inputs, title=title)
    html = render_html(data, clean_text=clean_text)
    path = None
    if out is not None:  # a temporary file renamed over it: a kill or a full disk leaves the old report whole
        path = write_bytes(out, html)
    return Report(path, html, n_paths=sum(len(column["item"]) for column in data["columns"]),
                  n_items=sum(len(found["ids"]) for found in data["sets"].values()), n_columns=len(data["columns"]),
                  blind=data.get("blind"))

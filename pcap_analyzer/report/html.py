"""The HTML report: one offline page rendered from an AnalysisResult (Jinja2, autoescaped).

Static text (verdict, facts, small tables) is rendered by Jinja; the charts and the large connections
table are drawn by static/report.js from the JSON data island (see html_data.py). No inline event
handler or style attribute is emitted, so the page works under a strict Content-Security-Policy:
inline <script>/<style> elements carry ``script_nonce`` when one is given, or, with
``self_contained=False``, the scripts and styles are loaded from ``asset_url`` (see ``static_dir``).
"""

from __future__ import annotations

import importlib.util
import json
import os
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import jinja2

from pcap_analyzer.report.csv_export import tables_spec
from pcap_analyzer.report.html_data import island_payload, script_json
from pcap_analyzer.report.model import AnalysisResult

_HERE = Path(__file__).resolve().parent
# Our own files in static/, then the Plotly.js bundle (MIT licence) shipped by the `plotly` package.
OWN_ASSETS = ("report.css", "report.js")
PLOTLY_ASSET = "plotly.min.js"
ASSET_FILES = (*OWN_ASSETS, PLOTLY_ASSET)


def plotly_js_path() -> Path:
    """The plotly.min.js bundled in the installed `plotly` Python package (found without importing it)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the HTML report needs the 'plotly' package for its charts")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / PLOTLY_ASSET


def static_dir() -> Path:
    """Folder of our own assets (report.css, report.js); plotly.min.js lives at plotly_js_path()."""
    return _HERE / "static"


def asset_path(name: str) -> Path:
    """Where the asset called `name` (one of ASSET_FILES) is on disk, for a web service to serve."""
    if name == PLOTLY_ASSET:
        return plotly_js_path()
    if name in OWN_ASSETS:
        return static_dir() / name
    raise KeyError(f"not a report asset: {name!r}")


@lru_cache(maxsize=len(ASSET_FILES))
def _asset_text(name: str) -> str:
    text = asset_path(name).read_text(encoding="utf-8")
    # An inline <script>/<style> ends at the first "</script"/"</style"; none of our assets holds one.
    if "</script" in text.lower() or "</style" in text.lower():
        raise RuntimeError(f"asset {name} cannot be inlined: it contains a closing tag")
    return text


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,  # every template here is HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["bytes"] = human_bytes
    env.filters["utc"] = utc_time
    env.filters["iso"] = iso_time
    env.filters["num"] = number
    return env


def human_bytes(n: float | None) -> str:
    """1536 -> '1.5 KiB'."""
    if n is None:
        return "–"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def number(value: float | None, digits: int = 1) -> str:
    """A float rounded for display, or an en dash for a missing value."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def utc_time(ts: float | None) -> str:
    """Epoch seconds as 'YYYY-MM-DD HH:MM:SS.ffffff UTC'."""
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def iso_time(ts: float | None) -> str:
    """Epoch seconds as ISO 8601 (for <time datetime>; the page shows local time from it)."""
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def render_html(
    result: AnalysisResult,
    *,
    self_contained: bool = True,
    script_nonce: str | None = None,
    asset_url: str | None = None,
) -> str:
    """Render the report page.

    Args:
        result: the analysis to show; the page holds nothing that is not in it.
        self_contained: embed Plotly.js, report.js and report.css (a single offline file).
        script_nonce: CSP nonce put on every inline <script> and <style> element.
        asset_url: with self_contained=False, the URL prefix serving ASSET_FILES, e.g. "/static/report".

    Returns:
        The HTML document.

    Example:
        >>> html = render_html(result, self_contained=False, script_nonce="abc", asset_url="/static/report")
    """
    if not self_contained and not asset_url:
        raise ValueError("asset_url is required when self_contained is False")
    inline = {name: _asset_text(name) for name in ASSET_FILES} if self_contained else {}
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=result,
        data_json=script_json(island_payload(result)),
        self_contained=self_contained,
        inline=inline,
        nonce=script_nonce,
        asset_url=(asset_url or "").rstrip("/"),
        assets=ASSET_FILES,
        csv_tables_json=json.dumps(tables_spec(), separators=(",", ":")),
    )


def write_html(
    result: AnalysisResult,
    path: str | Path,
    *,
    self_contained: bool = True,
    script_nonce: str | None = None,
    asset_url: str | None = None,
) -> Path:
    """Render (arguments as render_html) and write the page atomically; returns the path."""
    p = Path(path)
    text = render_html(result, self_contained=self_contained, script_nonce=script_nonce, asset_url=asset_url)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)
    return p

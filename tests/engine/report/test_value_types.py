"""Every value of an analysis result already has the Python type its model annotation names.

The engine encodes the result as it is (no checking pass: it cost ~50 ms on a 1 M-packet capture), so an
analyzer that left a float in an `int` field, an int in a `float` field, a tuple in a `list` field or a
NumPy scalar anywhere would change the JSON report (5.0 for 5) or the result read back from it.
`normalized` converts a copy strictly by the annotations; both must have the same repr (which shows 5 and
5.0, (1,) and [1], np.float64(1.5) and 1.5 apart), on every capture the project has and on the public
corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.errors import CaptureFormatError
from pcap_analyzer.report.base import normalized

DATA = Path(__file__).resolve().parents[2] / "data"
PUBLIC = Path(__file__).resolve().parents[4] / "shared" / "public-corpus"
OWN = sorted(p for p in DATA.rglob("*") if p.suffix in {".pcap", ".pcapng", ".cap"})


def _mismatch(path: Path) -> str | None:
    try:
        result = analyze(path)
    except CaptureFormatError:
        return None
    built, checked = repr(result), repr(normalized(result))
    if built == checked:
        return None
    at = next((i for i, (a, b) in enumerate(zip(built, checked, strict=False)) if a != b), len(built))
    return f"{path.name}: ...{built[max(0, at - 80) : at + 20]} vs ...{checked[at : at + 20]}"


@pytest.mark.parametrize("path", OWN, ids=[str(p.relative_to(DATA)) for p in OWN])
def test_values_have_their_annotated_types(path: Path) -> None:
    assert _mismatch(path) is None


if PUBLIC.is_dir():

    def test_values_have_their_annotated_types_on_the_public_corpus() -> None:
        captures = sorted(p for p in PUBLIC.iterdir() if p.name != "oracle.json" and p.is_file())
        wrong = [m for m in map(_mismatch, captures) if m is not None]
        assert len(captures) >= 400 and wrong == []

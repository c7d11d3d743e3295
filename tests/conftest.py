"""Shared fixtures: the tshark-checked capture corpus in ../shared/corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# CI explores a fixed set of examples (HYPOTHESIS_PROFILE=ci) so a run is reproducible; locally every run
# tries new ones.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CORPUS_DIR = Path(os.environ.get("PCAP_CORPUS_DIR", DEFAULT_CORPUS_DIR))
# oracle.json gives DNS rcodes as numbers; their names, written here apart from the engine's own table.
_RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED")
RCODE_NAMES = {str(code): name for code, name in enumerate(_RCODES)}


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The corpus folder; tests that need it are skipped (with the reason) when it is absent."""
    if not (CORPUS_DIR / "oracle.json").is_file():
        pytest.skip(f"capture corpus not found at {CORPUS_DIR} (set PCAP_CORPUS_DIR)")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def oracle(corpus_dir: Path) -> dict[str, Any]:
    """tshark's facts for each corpus capture (oracle.json -> captures)."""
    data: dict[str, Any] = json.loads((corpus_dir / "oracle.json").read_text())
    return data["captures"]  # type: ignore[no-any-return]

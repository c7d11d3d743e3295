"""Fixtures of the deployment tests: the web-service tests' database fixtures, a fresh PostgreSQL database,
and the captures of the scale-out scenario."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import (  # noqa: F401  (fixtures)
    _hermetic_settings,
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
    require_postgres,
)
from tests.deploy.scale import UPLOADS, udp_capture

SCALE_PACKETS = 150_000


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:  # noqa: F811
    """A new, empty PostgreSQL database for this test (dropped afterwards)."""
    require_postgres(postgres_available)
    url = create_postgres_database("pcap_deploy")
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def scale_captures(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, int]]:
    """UPLOADS captures with distinct packet counts (so a report mixed up with another one shows).

    The first two (claimed first, one by each idle worker) are 4x larger, so the victim's analysis lasts
    seconds and the SIGKILL lands while it runs, however fast the machine."""
    folder = tmp_path_factory.mktemp("scale-captures")
    counts = [SCALE_PACKETS * (4 if i < 2 else 1) + i for i in range(UPLOADS)]
    return [(udp_capture(folder / f"scale-{i:02d}.pcap", n, seed=i), n) for i, n in enumerate(counts)]

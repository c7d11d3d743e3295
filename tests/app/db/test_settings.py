"""Settings: validation with one clear line, the secret key rules, URL normalisation."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import SECRET_KEY_FILE, load_settings, normalize_database_url
from app.errors import ConfigError
from tests.app.conftest import subprocess_env

CLI = Path(sys.executable).with_name("pcap-analyzer")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "DATABASE_URL",
        "SECRET_KEY",
        "ENVIRONMENT",
        "REPORT_TTL_HOURS",
        "DATA_DIR",
        "COOKIE_SECURE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/pcap_analyzer.db", ("sqlite+aiosqlite:///data/pcap_analyzer.db", "sqlite")),
        ("sqlite:////var/lib/x.db", ("sqlite+aiosqlite:////var/lib/x.db", "sqlite")),
        ("postgresql://u:p@h:5432/d", ("postgresql+asyncpg://u:p@h:5432/d", "postgresql")),
        ("postgresql+asyncpg://u:p@h/d", ("postgresql+asyncpg://u:p@h/d", "postgresql")),
        ("postgresql+psycopg2://u:p@h/d", ("postgresql+asyncpg://u:p@h/d", "postgresql")),
        ("postgres://u@h/d?sslmode=require", ("postgresql+asyncpg://u@h/d?ssl=require", "postgresql")),
    ],
)
def test_normalize_database_url(url: str, expected: tuple[str, str]) -> None:
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DATABASE_URL": "mysql://u:pw@h/db"}, "DATABASE_URL: unsupported scheme 'mysql'"),
        ({"DATABASE_URL": "postgresql://u:pw@h"}, "DATABASE_URL: the PostgreSQL URL names no database"),
        ({"REPORT_TTL_HOURS": "-1"}, "REPORT_TTL_HOURS: Input should be greater than 0"),
        ({"ENVIRONMENT": "staging"}, "ENVIRONMENT: Input should be 'development', 'production' or 'test'"),
        ({"ENVIRONMENT": "production"}, "SECRET_KEY is required when ENVIRONMENT=production"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY: must be at least 32 characters"),
    ],
)
def test_bad_settings_give_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert needle in message and "\n" not in message
    assert "pw@" not in message  # values (maybe passwords) are never echoed


def test_bad_setting_from_the_command_line(tmp_path: Path) -> None:
    env = subprocess_env(REPORT_TTL_HOURS="-5", DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [str(CLI), "users", "create-admin", "--username", "admin", "--email", "a@ex.org", "--password-stdin"],
        input="a-long-enough-password\n", cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: invalid setting REPORT_TTL_HOURS: Input should be greater than 0"
    ]


def test_development_generates_a_private_key_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = load_settings()
    key_file = tmp_path / "data" / SECRET_KEY_FILE
    assert first.SECRET_KEY and len(first.SECRET_KEY) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first.SECRET_KEY
    assert load_settings().SECRET_KEY == first.SECRET_KEY  # kept across restarts


def test_production_with_key_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    settings = load_settings()
    assert settings.COOKIE_SECURE is True and settings.REPORT_TTL_HOURS == 24
    assert settings.DATABASE_URL == "sqlite:///data/pcap_analyzer.db"
    assert settings.WORKER_CONCURRENCY >= 1 and settings.MAX_UPLOAD_MB == 1024
    assert "k" * 40 not in repr(settings)


def test_env_example_documents_every_setting_and_loads(tmp_path: Path) -> None:
    from app.config import Settings

    example = (Path(__file__).resolve().parents[3] / ".env.example").read_text()
    missing = [name for name in Settings.model_fields if name not in example]
    assert missing == []
    (tmp_path / ".env").write_text(example)
    settings = load_settings()  # the file as shipped is valid
    assert settings.DATABASE_URL == "sqlite:///data/pcap_analyzer.db"
    assert settings.ENVIRONMENT == "development"

"""The deployment tests use the web-service tests' database fixtures."""

from tests.app.conftest import _hermetic_settings, postgres_available  # noqa: F401  (fixtures)

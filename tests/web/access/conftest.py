"""The access web tests use the fixtures of the access unit tests (fakes, location, enabled providers)."""

from tests.unit.access.conftest import (  # noqa: F401 (fixtures)
    desk,
    enable,
    fitpass_server,
    friction_server,
    location,
    make_location,
    wellhub_server,
)

"""Unit tests run with the network blocked: a unit test that reaches AWS fails at once."""

import pytest
from pytest_socket import disable_socket, enable_socket

# The X-Ray SDK behind Powertools' Tracer opens its (unused, local UDP) emitter socket on import;
# import it before sockets are blocked so that no unit test depends on another having done so.
import keyframe.observability  # noqa: F401


@pytest.fixture(autouse=True)
def _no_network():
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()

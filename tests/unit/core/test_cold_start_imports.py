"""An API function's cold start loads its routes' contracts, not the services the routes call.

Every REST route imports the services it calls inside the route (``*/routes.py``, ``*/*_routes.py``):
a function's init then pays for its routers' schemas and permissions, and a request for the one service
it needs (issue 15, cold start). These tests import each API function's handler in a fresh process, as
Lambda's init does, and look at which ``keyframe`` modules it loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyframe import registry
from tests.support.environment import BASE_ENV
from tests.support.imports import imported_modules

LOADED_CODE = (
    "import json, sys\n"
    "{imports}\n"
    "print(json.dumps(sorted(name for name in sys.modules if name.startswith('keyframe'))))\n"
)


def _loaded(imports: str, cwd: Path) -> set[str]:
    """The ``keyframe`` modules a fresh process holds after running ``imports`` in ``cwd``."""
    env = {**BASE_ENV, "PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", LOADED_CODE.format(imports=imports)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(result.stdout))


def _imported_in_routes(spec: registry.FunctionSpec) -> set[str]:
    """The modules the function's routers import inside their routes (``from keyframe.x import y``)."""
    found: set[str] = set()
    for module in spec.routers:
        path = registry.REPO_ROOT / "layers" / (module.replace(".", "/") + ".py")
        found |= imported_modules(path, inside_functions_only=True)
    return found


@pytest.fixture(scope="module")
def wiring() -> set[str]:
    """What every handler loads whatever its routes: observability and the live fan-out's hooks."""
    return _loaded("from keyframe import observability\nfrom keyframe.live import hooks", Path.cwd())


@pytest.mark.parametrize("spec", registry.api_functions(), ids=lambda spec: spec.name)
def test_an_api_function_starts_without_the_services_its_routes_call(
    spec: registry.FunctionSpec, wiring: set[str]
) -> None:
    # Given the services the function's routes import when they run
    services = _imported_in_routes(spec)
    # When the function starts (Lambda's init: its handler module is imported)
    loaded = _loaded("import handler", spec.handler_path.parent)
    # Then its routers are loaded, and none of those services beyond what every handler wires
    assert set(spec.routers) <= loaded
    assert sorted((services & loaded) - wiring) == []
    # And neither the publisher nor the fan-out: they load with the first route that emits
    assert sorted(loaded & {"keyframe.events.publisher", "keyframe.live.fanout"}) == []


def test_the_check_sees_services_when_a_route_module_loads_them() -> None:
    # Given reviews-api, whose routes call keyframe.reviews.service
    spec = registry.function("reviews-api")
    assert "keyframe.reviews.service" in _imported_in_routes(spec)
    # When that service is imported at the start (as a top-level import in a routes module would)
    loaded = _loaded("import keyframe.reviews.service\nimport handler", spec.handler_path.parent)
    # Then the check above would name it
    assert "keyframe.reviews.service" in loaded


def test_the_socket_message_function_starts_without_the_review_service_or_the_fan_out() -> None:
    # Given live-message, whose comment, resolve and review actions call keyframe.reviews.service
    spec = registry.function("live-message")
    router = registry.REPO_ROOT / "layers" / "keyframe" / "live" / "socket_messages.py"
    assert "keyframe.reviews.service" in imported_modules(router, inside_functions_only=True)
    # When it starts (Lambda's init)
    loaded = _loaded("import handler", spec.handler_path.parent)
    # Then it holds its message router, and neither the review service nor the fan-out
    assert "keyframe.live.socket_messages" in loaded
    assert sorted(loaded & {"keyframe.reviews.service", "keyframe.live.fanout"}) == []

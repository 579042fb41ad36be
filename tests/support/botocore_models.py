"""Parse botocore's service models once per test process, however many sessions the tests open.

botocore gives every new session its own data loader, and a loader re-reads and re-parses the JSON
service models (``endpoints.json``, ``service-2.json``, ...) the first time each session needs them:
about 0.15 s of CPU per session. moto's ``mock_aws`` replaces ``boto3.DEFAULT_SESSION`` on every
start, Powertools' ``SecretsProvider`` opens a ``boto3.Session`` after every cache reset and
``keyframe.storage.models`` opens one per thread, so a moto test opened several sessions and spent
most of its setup parsing the same files again. One shared loader serves them all.

The loader only reads the models botocore ships (read-only data, cached by argument exactly as one
session's loader caches them), so sharing it changes nothing a test can observe. Production code is
untouched; this is installed by ``tests/conftest.py`` for the test processes only.
"""

from __future__ import annotations

import botocore.loaders
import botocore.session

_shared: list[botocore.loaders.Loader] = []


def share_loader() -> None:
    """Make every ``botocore.session.Session`` created from now on use one process-wide loader.

    Idempotent. The loader honours ``AWS_DATA_PATH`` as set at the first call.
    """
    if _shared:
        return
    _shared.append(
        botocore.loaders.create_loader(botocore.session.Session().get_config_variable("data_path"))
    )
    loader = _shared[0]

    def _register_data_loader(session: botocore.session.Session) -> None:
        session._components.lazy_register_component("data_loader", lambda: loader)

    botocore.session.Session._register_data_loader = _register_data_loader  # type: ignore[method-assign]

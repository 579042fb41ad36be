"""How ``make dev`` reads its ports, folders and the LocalStack switch from the environment."""

from __future__ import annotations

from pathlib import Path

from keyframe import registry
from keyframe.local.stack import DEFAULT_CORS_ORIGINS, StackConfig


def test_defaults_are_localstacks_port_and_the_dev_servers() -> None:
    # Given an empty environment / When / Then
    config = StackConfig.from_env({})
    assert (config.moto_port, config.http_port, config.ws_port) == (4566, 3000, 3001)
    assert config.state_dir == registry.REPO_ROOT / ".keyframe"
    assert config.cors_origins == DEFAULT_CORS_ORIGINS
    assert config.external_endpoint is None


def test_ports_zero_state_dir_and_an_external_endpoint_are_read(tmp_path: Path) -> None:
    # Given
    environ = {
        "MOTO_PORT": "0",
        "KEYFRAME_HTTP_PORT": "0",
        "KEYFRAME_WS_PORT": "13001",
        "KEYFRAME_STATE_DIR": str(tmp_path),
        "AWS_ENDPOINT_URL": "http://localhost:4566",
        "CORS_ALLOW_ORIGINS": "https://review.example.com",
    }

    # When
    config = StackConfig.from_env(environ)

    # Then
    assert (config.moto_port, config.http_port, config.ws_port) == (0, 0, 13001)
    assert config.state_dir == tmp_path
    assert config.external_endpoint == "http://localhost:4566"
    assert config.cors_origins == "https://review.example.com"

"""The bounds of the local execution environments, read from the environment."""

from __future__ import annotations

from keyframe.local.environments import EnvironmentSettings


def test_defaults_when_unset_or_empty() -> None:
    assert EnvironmentSettings.from_env({}) == EnvironmentSettings(4, 300.0, 3.0)
    assert EnvironmentSettings.from_env({"KEYFRAME_LAMBDA_ENVIRONMENTS": " "}).max_per_function == 4


def test_each_variable_sets_its_bound() -> None:
    settings = EnvironmentSettings.from_env(
        {
            "KEYFRAME_LAMBDA_ENVIRONMENTS": "0",
            "KEYFRAME_LAMBDA_IDLE_SECONDS": "12.5",
            "KEYFRAME_LAMBDA_TIMEOUT_FACTOR": "1",
        }
    )
    assert settings == EnvironmentSettings(max_per_function=0, idle_seconds=12.5, timeout_factor=1.0)

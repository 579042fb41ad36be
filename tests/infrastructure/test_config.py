"""Stage configuration from CDK context, and ``python app.py -c`` arguments."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy

from infra.application import parse_context_args
from infra.config import StageConfig

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def test_defaults_are_the_shared_dev_stage():
    # Given no context at all
    config = StageConfig.from_context({})
    # Then it is the dev stage, disposable, with the local web app's origin
    assert config.stack_name == "Keyframe-dev"
    assert config.removal_policy == RemovalPolicy.DESTROY
    assert config.cors_origins == ("http://localhost:5173",)


def test_a_developer_suffix_names_the_stack_and_the_resources():
    # Given a developer's suffix
    config = StageConfig.from_context({"stage": "dev", "suffix": "alice"})
    # Then the stack and resource prefixes carry it
    assert config.stack_name == "Keyframe-dev-alice"
    assert config.name == "keyframe-dev-alice"
    assert config.jwt_issuer == "urn:keyframe:keyframe-dev-alice"


def test_prod_retains_data_and_allows_no_origin_unless_told():
    # Given the prod stage
    config = StageConfig.from_context({"stage": "prod"})
    # Then data is retained and protected, and no browser origin is allowed by default
    assert config.removal_policy == RemovalPolicy.RETAIN
    assert config.deletion_protection is True
    assert config.cors_origins == ()
    # And origins can be given as a comma-separated context value
    custom = StageConfig.from_context(
        {"stage": "prod", "corsOrigins": "https://a.example, https://b.example"}
    )
    assert custom.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"stage": "staging"}, "Unknown stage 'staging'"),
        ({"suffix": "Alice_1"}, "Invalid suffix"),
        ({"corsOrigins": "*"}, "never '\\*'"),
        ({"corsOrigins": "localhost:5173"}, "Invalid CORS origin"),
    ],
)
def test_invalid_context_is_refused_with_a_readable_message(context, message):
    # Given a mistyped context value
    # Then the synth stops before creating anything, saying what is wrong
    with pytest.raises(ValueError, match=message):
        StageConfig.from_context(context)


def test_app_arguments_are_cdk_style_context_pairs():
    # Given the arguments of `python app.py -c stage=prod --context suffix=bob`
    # Then they become context values, and anything else is refused
    assert parse_context_args(["-c", "stage=prod", "--context", "suffix=bob"]) == {
        "stage": "prod",
        "suffix": "bob",
    }
    with pytest.raises(ValueError, match="usage"):
        parse_context_args(["--stage", "prod"])

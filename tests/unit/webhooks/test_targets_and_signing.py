"""SSRF rules, Standard Webhooks signatures and the retry schedule (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from keyframe.errors import InvalidInput
from keyframe.webhooks import signing, targets
from keyframe.webhooks.dispatch import retry_delay
from keyframe.webhooks.settings import WebhookSettings


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://93.184.216.34/hooks", "WEBHOOK_URL_NOT_HTTPS"),
        ("ftp://93.184.216.34/hooks", "WEBHOOK_URL_NOT_HTTPS"),
        ("https://user:pw@93.184.216.34/hooks", "WEBHOOK_URL_NOT_HTTPS"),
        ("https://10.1.2.3/hooks", "WEBHOOK_URL_PRIVATE"),
        ("https://192.168.0.10/hooks", "WEBHOOK_URL_PRIVATE"),
        ("https://127.0.0.1/hooks", "WEBHOOK_URL_PRIVATE"),
        ("https://169.254.169.254/latest/meta-data", "WEBHOOK_URL_PRIVATE"),
        ("https://[::1]/hooks", "WEBHOOK_URL_PRIVATE"),
        ("https://[fe80::1]/hooks", "WEBHOOK_URL_PRIVATE"),
        ("https://[::ffff:10.0.0.1]/hooks", "WEBHOOK_URL_PRIVATE"),
        ("https://100.64.0.1/hooks", "WEBHOOK_URL_PRIVATE"),
        ("http://127.0.0.1:8080/hooks", "WEBHOOK_URL_NOT_HTTPS"),
    ],
)
def test_the_cloud_configuration_refuses_non_https_and_non_public_targets(url, code):
    with pytest.raises(InvalidInput) as refused:
        targets.check(url, allow_local_http=False)
    assert refused.value.code == code
    assert refused.value.details["fields"][0]["field"] == "url"


def test_a_host_that_resolves_to_a_private_address_is_refused(monkeypatch):
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["203.0.113.9", "10.0.0.7"])
    with pytest.raises(InvalidInput) as refused:
        targets.check("https://hooks.example.com/x", allow_local_http=False)
    assert refused.value.code == "WEBHOOK_URL_PRIVATE"


def test_a_public_https_target_passes_and_the_local_stack_allows_http_to_loopback(monkeypatch):
    targets.check("https://93.184.216.34/hooks", allow_local_http=False)
    targets.check("http://127.0.0.1:8080/hooks", allow_local_http=True)
    targets.check("http://localhost:8080/hooks", allow_local_http=True)
    with pytest.raises(InvalidInput):  # only loopback: a private network stays refused
        targets.check("http://10.0.0.7/hooks", allow_local_http=True)


def test_signatures_verify_with_the_standardwebhooks_library_for_every_valid_secret():
    new, old = signing.new_secret(), signing.new_secret()
    body = json.dumps({"id": "evt_1", "type": "asset:commented", "data": {}})
    headers = signing.headers("evt_1", body, [new, old], datetime.now(UTC))
    assert headers["webhook-id"] == "evt_1"
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Webhook(secret).verify(body, headers)["id"] == "evt_1"
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(signing.new_secret()).verify(body, headers)


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap():
    settings = WebhookSettings(WEBHOOK_RETRY_BASE_SECONDS=30, WEBHOOK_RETRY_MAX_SECONDS=3600)
    for failures, ceiling in ((1, 30), (2, 60), (3, 120), (10, 3600), (30, 3600)):
        delays = [retry_delay(failures, settings) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, min(delays), max(delays))
        assert len({round(d, 3) for d in delays}) > 1  # jittered


def test_every_event_type_is_in_the_live_contract_once():
    from keyframe.events.types import EventType
    from keyframe.live.contract import EVENTS

    assert [spec.type for spec in EVENTS] == list(dict.fromkeys(spec.type for spec in EVENTS))
    assert {spec.type for spec in EVENTS} == {t.value for t in EventType}


def test_the_defaults_are_the_issue_s_10_s_timeout_24_h_of_retries_and_cloud_rules(monkeypatch):
    for name in ("WEBHOOK_TIMEOUT_SECONDS", "WEBHOOK_RETRY_WINDOW_SECONDS", "WEBHOOK_ALLOW_LOCAL_HTTP"):
        monkeypatch.delenv(name, raising=False)
    defaults = WebhookSettings()
    assert defaults.WEBHOOK_TIMEOUT_SECONDS == 10.0
    assert defaults.WEBHOOK_RETRY_WINDOW_SECONDS == 24 * 3600
    assert defaults.WEBHOOK_ALLOW_LOCAL_HTTP is False  # http and loopback refused unless the stack says so

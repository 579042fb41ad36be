"""Analytics records and the local file sink: the layout an analyst (or `make dev` user) reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyframe import settings
from keyframe.analytics import records, sink
from keyframe.analytics.schemas import ClientEvent, ClientEventType
from keyframe.outbox.records import DomainEvent
from keyframe.usage import figures


@pytest.fixture
def directory(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("ANALYTICS_DIRECTORY", str(tmp_path))
    monkeypatch.delenv("ANALYTICS_STREAM_NAME", raising=False)
    settings.reset()
    yield tmp_path
    settings.reset()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_records_are_appended_per_studio_and_utc_date_of_occurrence(directory: Path) -> None:
    # Given client events of two studios, one of them on two UTC days
    now = datetime.now(UTC)
    event = ClientEvent(type=ClientEventType.ASSET_VIEWED, occurred_at=now, asset_id="a1")
    first = records.from_client("studio-a", "user-1", event)
    second = {**first, "id": "other", "occurredAt": "2026-12-04T23:59:59.999999Z"}
    third = records.from_client("studio-b", "user-2", event)
    # When they are put in two calls
    sink.put([first, second])
    sink.put([third])
    # Then each lands in studio=<id>/date=<yyyy-mm-dd>/events.jsonl, one JSON object per line
    today = now.strftime("%Y-%m-%d")
    assert _lines(directory / "studio=studio-a" / f"date={today}" / "events.jsonl") == [first]
    assert _lines(directory / "studio=studio-a" / "date=2026-12-04" / "events.jsonl") == [second]
    assert _lines(directory / "studio=studio-b" / f"date={today}" / "events.jsonl") == [third]
    assert third["userId"] == "user-2" and third["source"] == "client" and third["id"].startswith("anl_")


def test_a_file_that_cannot_be_written_is_a_sink_error(directory: Path) -> None:
    (directory / "studio=s").write_text("a file where a folder should be")
    with pytest.raises(sink.SinkError):
        sink.put([{"id": "x", "studio": "s", "occurredAt": "2026-12-05T00:00:00Z"}])


def test_without_a_destination_the_settings_refuse_to_load(monkeypatch) -> None:
    from pydantic import ValidationError

    from keyframe.analytics.settings import AnalyticsSettings

    monkeypatch.delenv("ANALYTICS_DIRECTORY", raising=False)
    monkeypatch.delenv("ANALYTICS_STREAM_NAME", raising=False)
    settings.reset()
    try:
        with pytest.raises(ValidationError, match="ANALYTICS_STREAM_NAME"):
            settings.load(AnalyticsSettings)
    finally:
        settings.reset()


def test_a_running_render_is_not_a_server_record_and_a_scene_counts_its_chunks(monkeypatch) -> None:
    running = DomainEvent.new("s", "render:status", {"status": "RUNNING", "preset": "hls"})
    scene = DomainEvent.new(
        "s",
        "render:status",
        {"status": "FAILED", "preset": "scene-frames", "scene": {"renderer": "blender"}, "renderJobId": "r1",
         "startedAt": "2026-12-05T06:00:00Z", "endedAt": "2026-12-05T06:00:10Z"},
    )  # fmt: skip
    asked: list[tuple[str, str, str | None]] = []

    def chunk_seconds(studio_id: str, render_job_id: str, ended_at: str | None) -> float:
        asked.append((studio_id, render_job_id, ended_at))
        return 14.0

    monkeypatch.setattr(figures, "scene_render_vcpu_seconds", chunk_seconds)
    assert records.from_domain_event(running) is None
    recorded = records.from_domain_event(scene)
    assert recorded is not None and recorded["properties"] == {
        "status": "FAILED",
        "preset": "scene-frames",
        "seconds": 10.0,
        "vcpuSeconds": 14.0,
    }
    assert asked == [("s", "r1", "2026-12-05T06:00:10Z")]


def test_firehose_chunks_stay_within_500_records_and_4_mib() -> None:
    small = [b"x" * 10] * 1201
    assert [len(c) for c in sink._chunks(small)] == [500, 500, 201]
    big = [b"y" * (1024 * 1024)] * 5
    assert [len(c) for c in sink._chunks(big)] == [3, 2]

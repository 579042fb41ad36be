"""Usage on the local stack after a scripted studio day (issue 13, done when): the figures of
``GET /studio/usage`` are what was done, read from the upload's bytes and the render's own times.

The day: a producer's studio uploads a tiny clip (1 s, 320x240, no sound) through the presigned
multipart flow, the pipeline makes it READY, and a two-frame filmstrip is rendered on it. Quotas
refusing work before it starts are tested on moto (tests/integration/usage/test_quotas.py, the
uploads' 413, the renders' 429s).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.e2e.test_live import invite, new_asset, register, upload_png, wait_until_ready
from tests.unit.media.samples import video_clip

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-features")]


def _seconds(started: str, ended: str) -> float:
    parse = lambda moment: datetime.fromisoformat(moment.replace("Z", "+00:00"))  # noqa: E731
    return (parse(ended) - parse(started)).total_seconds()


@pytest.mark.slow  # a long scenario
def test_a_studio_day_gives_the_usage_figures_of_what_was_done(
    local_stack: LocalStackProcess, http: BaseUrlSession, tmp_path: Path
) -> None:
    # Given a studio whose producer will read its usage
    admin = register(http, "Usage Day Studio")
    producer = invite(admin, "PRODUCER")
    # When a clip is uploaded and becomes READY
    _, asset_id = new_asset(admin)
    clip = video_clip(tmp_path / "day.mp4", seconds=1.0, size="320x240", audio=False)
    size = clip.stat().st_size
    upload_png(admin, asset_id, clip, content_type="video/mp4")
    assert wait_until_ready(admin, asset_id)["status"] == "READY"
    # And a two-frame filmstrip is rendered on it
    job = admin.post(
        f"/assets/{asset_id}/renders",
        {"preset": "filmstrip", "version": 1, "options": {"frames": 2}},
        expect=202,
    )
    deadline = time.monotonic() + 90
    rendered = admin.get(f"/renders/{job['renderJobId']}")
    while rendered["status"] not in ("SUCCEEDED", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.3)
        rendered = admin.get(f"/renders/{job['renderJobId']}")
    assert rendered["status"] == "SUCCEEDED", rendered
    # And the producer reads today's usage
    today = datetime.now(UTC).date().isoformat()
    usage = producer.get(f"/studio/usage?from={today}&to={today}")
    # Then the bytes are the clip's, counted once, and the studio holds them
    assert usage["uploadsCompleted"] == {"count": 1, "bytes": size}
    assert usage["storageBytes"] == size
    assert usage["storageByDay"] == [{"date": today, "bytes": size, "changeBytes": size}]
    # And the render's seconds are its own (endedAt - startedAt), at the job's 2 vCPUs
    seconds = _seconds(rendered["startedAt"], rendered["endedAt"])
    figure = usage["rendersByPreset"]["filmstrip"]
    assert figure["count"] == 1
    assert figure["seconds"] == pytest.approx(seconds, abs=1e-3)
    assert figure["vcpuSeconds"] == pytest.approx(seconds * 2, abs=1e-3)
    assert set(usage["rendersByPreset"]) == {"filmstrip"}
    # And the members who did something today are counted (the admin; the producer joined)
    assert usage["activeMembers"] == 2, usage

"""FFmpeg -progress parsing, the 2 s throttle, monotonic percent and the ETA."""

from __future__ import annotations

import pytest

from keyframe.renders.progress import ProgressParser, ProgressSample, ProgressTracker, eta_seconds, percent


def _block(**fields: str) -> list[str]:
    end = fields.pop("progress", "continue")
    return [f"{k}={v}\n" for k, v in fields.items()] + [f"progress={end}\n"]


def test_a_block_becomes_one_sample() -> None:
    parser = ProgressParser()
    samples = [
        parser.feed(line) for line in _block(frame="48", fps="95.50", out_time_us="2000000", speed="3.97x")
    ]
    assert samples[:-1] == [None] * 4
    assert samples[-1] == ProgressSample(out_time=2.0, frame=48, fps=95.5, speed=3.97, done=False)


def test_not_available_values_become_zero_and_the_end_is_flagged() -> None:
    parser = ProgressParser()
    sample = None
    for line in _block(frame="0", fps="0.00", out_time_us="N/A", speed="N/A", progress="end"):
        sample = parser.feed(line)
    assert sample == ProgressSample(out_time=0.0, frame=0, fps=0.0, speed=0.0, done=True)


def test_out_time_ms_is_read_as_microseconds_when_out_time_us_is_missing() -> None:
    parser = ProgressParser()
    sample = [parser.feed(line) for line in _block(out_time_ms="1500000")][-1]
    assert sample is not None and sample.out_time == 1.5


def test_percent_is_capped_below_100_until_the_end() -> None:
    assert percent(1.5, 3.0) == 50
    assert percent(3.2, 3.0) == 99
    assert percent(1.0, 0.0) == 0


def test_eta_from_speed_then_from_fps() -> None:
    assert eta_seconds(out_time=1.0, duration=3.0, speed=2.0) == 1
    assert eta_seconds(out_time=1.0, duration=3.0, speed=0.5) == 4
    assert eta_seconds(out_time=1.0, duration=3.0, speed=0.0, fps=12.0, source_fps=24.0) == 4
    assert eta_seconds(out_time=1.0, duration=3.0, speed=0.0) is None
    assert eta_seconds(out_time=4.0, duration=3.0, speed=1.0) == 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _sample(out_time: float, done: bool = False) -> ProgressSample:
    return ProgressSample(out_time=out_time, frame=int(out_time * 24), fps=48.0, speed=2.0, done=done)


def test_updates_are_sent_at_most_every_two_seconds_and_the_last_always() -> None:
    # Given a tracker with a fake clock
    clock = FakeClock()
    tracker = ProgressTracker(duration=10.0, source_fps=24.0, clock=clock)
    sent = []
    # When samples arrive every half second for five seconds, then the end
    for step in range(10):
        update = tracker.observe(_sample(step * 0.5 + 0.5))
        if update:
            sent.append((clock.now, update.progress))
        clock.now += 0.5
    final = tracker.observe(_sample(10.0, done=True))
    # Then updates went out at t=100, 102, 104 only, and the final one says 100 % with ETA 0
    assert [t for t, _ in sent] == [100.0, 102.0, 104.0]
    assert final is not None and final.progress == 100 and final.eta == 0


def test_progress_never_goes_down() -> None:
    clock = FakeClock()
    tracker = ProgressTracker(duration=10.0, interval=0, clock=clock)
    seen = [getattr(tracker.observe(_sample(t)), "progress", None) for t in (5.0, 3.0, 6.0)]
    assert seen == [50, 50, 60]


@pytest.mark.parametrize("interval", [0.0, 2.0])
def test_eta_of_an_update_uses_the_speed(interval: float) -> None:
    tracker = ProgressTracker(duration=10.0, interval=interval, clock=FakeClock())
    update = tracker.observe(_sample(4.0))
    assert update is not None and update.eta == 3 and update.fps == 48.0

"""Presets -> FFmpeg arguments: the ladder, one decode, aligned keyframes, options and their checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from keyframe.errors import InvalidInput
from keyframe.renders import commands, presets
from keyframe.renders.presets import RenderOptions, SourceMedia

HD = SourceMedia(width=1920, height=1080, fps=24.0, duration=3.0, frame_count=72, has_audio=True)
SD = SourceMedia(width=1280, height=720, fps=25.0, duration=2.0, frame_count=50, has_audio=False)


def _command(preset: str, source: SourceMedia = HD, **options):
    plan = presets.plan(
        preset, RenderOptions.model_validate(options), source, presets.RenderTexts("Hero", "v003", "me")
    )
    return plan, commands.build_command(plan, "/in/source.mov", "/work/out", work_dir="/work")


def _value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


@pytest.mark.parametrize(
    ("height", "expected"),
    [
        (2160, ["1080p", "720p", "480p"]),
        (1080, ["1080p", "720p", "480p"]),
        (900, ["720p", "480p"]),
        (720, ["720p", "480p"]),
        (480, ["480p"]),
        (360, ["360p"]),
        (241, ["240p"]),
    ],
)
def test_the_ladder_never_goes_above_the_source_and_keeps_at_least_one_rung(
    height: int, expected: list[str]
) -> None:
    # Given a source of some height / When the ladder is chosen / Then no rung is taller
    rungs = commands.ladder_for(height)
    assert [r.name for r in rungs] == expected
    assert all(r.height <= height for r in rungs)


def test_hls_decodes_once_and_feeds_every_rendition_from_one_split() -> None:
    # Given a 1080p source with sound
    _, command = _command("hls")
    args = command.args
    # Then there is one input, one split into three, and three variants in the stream map
    assert args.count("-i") == 1
    graph = _value(args, "-filter_complex")
    assert graph.count("split=3") == 1
    assert "scale=1920:1080" in graph and "scale=1280:720" in graph and "scale=854:480" in graph
    assert _value(args, "-var_stream_map") == "v:0,a:0,name:1080p v:1,a:1,name:720p v:2,a:2,name:480p"
    assert args.count("0:a:0") == 3
    assert [r.name for r in command.renditions] == ["1080p", "720p", "480p"]
    assert command.renditions[0].bandwidth == (5000 + presets.AUDIO_BITRATE_KBPS) * 1000


def test_hls_keyframes_are_aligned_on_four_second_segments() -> None:
    # Given a 24 fps source / When the HLS command is built
    _, command = _command("hls")
    args = command.args
    # Then GOP = fps x 4, no scene-cut keyframes, forced keyframes every 4 s and 4 s segments
    assert _value(args, "-g") == "96" and _value(args, "-keyint_min") == "96"
    assert _value(args, "-sc_threshold") == "0"
    assert _value(args, "-force_key_frames") == "expr:gte(t,n_forced*4)"
    assert _value(args, "-hls_time") == "4"
    assert _value(args, "-master_pl_name") == "master.m3u8"
    assert args[-1] == "/work/out/%v/index.m3u8"
    assert args[args.index("-progress") : args.index("-progress") + 3] == ["-progress", "pipe:1", "-nostats"]


def test_hls_of_a_silent_source_maps_no_audio() -> None:
    _, command = _command("hls", SD)
    assert "0:a:0" not in command.args and "-c:a" not in command.args
    assert _value(command.args, "-var_stream_map") == "v:0,name:720p v:1,name:480p"
    assert _value(command.args, "-g") == "100"


def test_review_mp4_is_at_most_1080_lines_and_faststart() -> None:
    uhd = SourceMedia(3840, 2160, 30.0, 2.0, 60, True)
    _, command = _command("review-mp4", uhd)
    assert "scale=1920:1080" in _value(command.args, "-vf")
    assert _value(command.args, "-movflags") == "+faststart"
    assert command.args[-1] == "/work/out/review.mp4"


def test_filmstrip_selects_evenly_spaced_frames_into_one_tiled_image() -> None:
    plan, command = _command("filmstrip", frames=6)
    chain = _value(command.args, "-vf")
    assert "select='not(mod(n\\,12))*lt(n\\,72)'" in chain
    assert "tile=5x2" in chain
    assert _value(command.args, "-frames:v") == "1"
    assert command.args[-1] == "/work/out/filmstrip.jpg"
    assert plan.filmstrip_frames == 6


def test_trim_by_frames_seeks_and_limits_the_input() -> None:
    plan, command = _command("review-mp4", startFrame=24, endFrame=48)
    assert (plan.frames.start, plan.frames.end) == (24, 48)
    assert _value(command.args, "-ss") == "1.000000"
    assert _value(command.args, "-t") == "1.000000"
    assert command.args.index("-ss") < command.args.index("-i")
    assert command.duration == pytest.approx(1.0)


def test_trim_by_timecode_is_the_same_as_by_frames() -> None:
    plan, _ = _command("hls", startTimecode="00:00:01:00", endTimecode="00:00:02:12")
    assert (plan.frames.start, plan.frames.end) == (24, 60)


def test_an_untrimmed_render_does_not_seek() -> None:
    _, command = _command("hls")
    assert "-ss" not in command.args and "-t" not in command.args


@pytest.mark.parametrize(
    "options",
    [
        {"startFrame": 0, "endFrame": 73},
        {"startFrame": 72},
        {"startTimecode": "00:00:03:01"},
        {"endTimecode": "00:00:04:00"},
    ],
)
def test_a_trim_outside_the_source_is_refused(options: dict) -> None:
    with pytest.raises(InvalidInput) as caught:
        _command("hls", **options)
    assert caught.value.code == "TRIM_OUT_OF_RANGE"


@pytest.mark.parametrize(
    "options",
    [
        {"startFrame": 10, "endFrame": 10},
        {"startFrame": 1, "startTimecode": "00:00:00:01"},
        {"startTimecode": "1:00:00:00"},
        {"colour": "red"},
        {"burnIn": {"frameNumber": True, "clock": True}},
        {"frames": 0},
    ],
)
def test_malformed_options_are_refused(options: dict) -> None:
    with pytest.raises(ValidationError):
        RenderOptions.model_validate(options)


def test_an_option_the_preset_does_not_take_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        _command("hls", watermark=True)
    assert caught.value.code == "UNSUPPORTED_OPTION"
    assert caught.value.details["unsupported"] == ["watermark"]


def test_an_unknown_preset_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        presets.plan("gif", None, HD)
    assert caught.value.code == "UNKNOWN_PRESET"


def test_a_filmstrip_needs_as_many_frames_as_it_shows() -> None:
    with pytest.raises(InvalidInput) as caught:
        _command("filmstrip", startFrame=0, endFrame=5, frames=6)
    assert caught.value.code == "TOO_FEW_FRAMES"


def test_burn_in_draws_the_source_frame_number_and_reads_names_from_files() -> None:
    # Given a trim from frame 24 and every burn-in
    _, command = _command(
        "hls", startFrame=24, burnIn={"frameNumber": True, "assetName": True, "version": True}
    )
    graph = _value(command.args, "-filter_complex")
    # Then the frame number counts from the trim's first frame, once, before the split
    assert "%{eif\\:n+24\\:d}" in graph
    assert graph.index("drawtext") < graph.index("split=")
    # And the asset name and version come from text files (no escaping of user text in the graph)
    assert command.text_files == {"/work/asset-name.txt": "Hero", "/work/version.txt": "v003"}
    assert "expansion=none" in graph


def test_watermark_text_is_one_clean_line() -> None:
    plan = presets.plan(
        "review-mp4",
        RenderOptions(watermark=True),
        HD,
        presets.RenderTexts(watermark="ann@x.io\n2026:01\x00"),
    )
    command = commands.build_command(plan, "in.mp4", "/w/out", work_dir="/w")
    assert command.text_files == {"/w/watermark.txt": "ann@x.io 2026:01"}
    assert "watermark.txt" in _value(command.args, "-vf")


def test_unsafe_work_paths_are_refused_in_filter_arguments() -> None:
    plan = presets.plan("review-mp4", RenderOptions(watermark=True), HD)
    with pytest.raises(ValueError, match="unsafe"):
        commands.build_command(plan, "in.mp4", "/w/out", work_dir="/w/it's")


def test_the_plain_command_drops_only_the_progress_flags() -> None:
    _, command = _command("hls")
    plain = command.without_progress()
    assert "-progress" not in plain and "pipe:1" not in plain and "-nostats" not in plain
    assert len(plain) == len(command.args) - 3


def test_source_media_from_a_catalog_record() -> None:
    media = {
        "width": 1280,
        "height": 720,
        "fps": 24,
        "duration": 3.0,
        "frameCount": 72,
        "codecs": {"audio": "aac"},
    }
    source = SourceMedia.from_media(media)
    assert (source.frame_count, source.has_audio) == (72, True)
    with pytest.raises(InvalidInput) as caught:
        SourceMedia.from_media({"duration": 3.0, "codecs": {"audio": "aac"}})
    assert caught.value.code == "SOURCE_NOT_VIDEO"

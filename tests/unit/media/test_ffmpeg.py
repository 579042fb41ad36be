"""FFmpeg argument builders, failure classification, and the derivatives they really make."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from keyframe.media import ffmpeg
from keyframe.media.derive import command, plan, single_pass_command
from keyframe.media.errors import InvalidMediaError
from keyframe.media.probe import MediaInfo, probe


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1920, 1080), (1280, 720)),
        ((3840, 2160), (1280, 720)),
        ((1080, 1920), (720, 1280)),
        ((1280, 720), (1280, 720)),
        ((640, 480), (640, 480)),
        ((641, 361), (640, 360)),
        ((2048, 858), (1280, 536)),
        ((1440, 1080), (960, 720)),
    ],
)
def test_proxy_size_fits_720p_keeps_aspect_and_never_upscales(source, expected) -> None:
    assert ffmpeg.proxy_size(*source) == expected


def test_poster_frame_is_a_quarter_in_but_at_most_one_second() -> None:
    assert ffmpeg.poster_time(None) == 0.0
    assert ffmpeg.poster_time(2.0) == 0.5
    assert ffmpeg.poster_time(600.0) == 1.0


def test_thumbnail_seeks_on_the_input_and_bounds_the_width() -> None:
    args = ffmpeg.thumbnail_args("https://s3/clip.mp4?sig", "/tmp/t.jpg", seek=0.5)
    assert args[0] == ffmpeg.ffmpeg_exe()
    assert args.index("-ss") < args.index("-i")
    assert args[args.index("-i") + 1] == "https://s3/clip.mp4?sig"
    assert "min(640,iw)" in args[args.index("-vf") + 1]
    assert args[args.index("-frames:v") + 1] == "1"
    assert args[-1] == "/tmp/t.jpg"
    assert "-ss" not in ffmpeg.thumbnail_args("in.png", "out.jpg")


def test_proxy_is_h264_aac_faststart_mp4() -> None:
    args = ffmpeg.proxy_args("in.mov", "out.mp4", width=1280, height=720, has_audio=True)
    joined = " ".join(args)
    assert "-c:v libx264" in joined and "-c:a aac" in joined
    assert "-movflags +faststart" in joined
    assert "scale=1280:720" in joined and "format=yuv420p" in joined
    assert "-map 0:a:0" in joined


def test_proxy_of_a_silent_video_maps_no_audio() -> None:
    args = ffmpeg.proxy_args("in.mov", "out.mp4", width=640, height=360, has_audio=False)
    assert "0:a:0" not in args and "-c:a" not in args


def test_waveform_uses_showwavespic_on_the_first_audio_stream() -> None:
    args = ffmpeg.waveform_args("in.wav", "out.png", size=(800, 200))
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:a:0]") and "showwavespic=s=800x200" in graph


@pytest.mark.parametrize(
    ("returncode", "stderr", "input_problem"),
    [
        (1, "in.mp4: Invalid data found when processing input", True),
        (1, "moov atom not found", True),
        (1, "HTTP error 503 Service Unavailable\nServer returned 5XX Server Error reply", False),
        (1, "Connection refused", False),
        (-9, "", False),
    ],
)
def test_failures_are_told_apart(returncode: int, stderr: str, input_problem: bool) -> None:
    assert ffmpeg.FFmpegFailure(returncode, stderr).is_input_problem is input_problem


def test_an_undecodable_input_is_an_invalid_media_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8)
    with pytest.raises(InvalidMediaError, match="FFmpeg could not make the thumbnail"):
        ffmpeg.run(ffmpeg.thumbnail_args(str(garbage), str(tmp_path / "t.jpg")), what="the thumbnail")


def test_a_missing_binary_is_a_tool_error() -> None:
    with pytest.raises(ffmpeg.MediaToolError):
        ffmpeg.run(["/nonexistent/ffmpeg", "-version"])


def test_plan_follows_the_streams_found() -> None:
    picture_and_sound = MediaInfo(codecs={"video": "h264", "audio": "aac"})
    sound = MediaInfo(codecs={"audio": "aac"})
    assert plan("video", picture_and_sound) == ["thumbnail", "proxy"]
    assert plan("video", sound) == ["waveform"]
    assert plan("image", MediaInfo(codecs={"video": "png"})) == ["thumbnail"]
    assert plan("audio", sound) == ["waveform"]
    assert plan("scene", MediaInfo()) == []
    with pytest.raises(InvalidMediaError):
        plan("audio", MediaInfo(codecs={"video": "png"}))


def _decode_first_frame(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def test_the_commands_make_real_derivatives(samples: dict[str, Path], tmp_path: Path) -> None:
    # Given a video with sound and a WAV file
    video_info = probe(str(samples["mp4"]))
    audio_info = probe(str(samples["wav"]))

    # When the thumbnail, proxy and waveform commands run
    outputs = {
        "thumbnail": (samples["mp4"], video_info, tmp_path / "thumbnail.jpg"),
        "proxy": (samples["mp4"], video_info, tmp_path / "proxy.mp4"),
        "waveform": (samples["wav"], audio_info, tmp_path / "waveform.png"),
    }
    for name, (source, info, output) in outputs.items():
        ffmpeg.run(command(name, str(source), str(output), info), what=name)

    # Then each decodes: a JPEG poster frame, an H.264 + AAC proxy of the source's size, a PNG waveform
    assert (tmp_path / "thumbnail.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert _decode_first_frame(tmp_path / "thumbnail.jpg") == (320, 240)
    proxy = probe(str(tmp_path / "proxy.mp4"))
    assert proxy.codecs == {"video": "h264", "audio": "aac"}
    assert (proxy.width, proxy.height) == (320, 240)
    assert abs(proxy.duration - video_info.duration) < 0.1
    assert (tmp_path / "waveform.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _decode_first_frame(tmp_path / "waveform.png") == ffmpeg.WAVEFORM_SIZE


def test_the_single_pass_makes_what_the_two_commands_make(samples: dict[str, Path], tmp_path: Path) -> None:
    # Given a video with sound
    source = str(samples["mp4"])
    info = probe(source)

    # When the thumbnail and proxy are made by their own commands, and by the one single-pass command
    for name in ("thumbnail", "proxy"):
        ffmpeg.run(command(name, source, str(tmp_path / f"two-{name}"), info), what=name)
    outputs = {"thumbnail": str(tmp_path / "one-thumbnail"), "proxy": str(tmp_path / "one-proxy")}
    args = single_pass_command(source, outputs, info)
    ffmpeg.run(args, what="both")

    # Then the source is opened once, and the files are alike: a JPEG poster frame of the same size,
    # an H.264 + AAC proxy of the same size, duration and streams
    assert args.count("-i") == 1
    assert (tmp_path / "one-thumbnail").read_bytes()[:3] == b"\xff\xd8\xff"
    assert _decode_first_frame(tmp_path / "one-thumbnail") == _decode_first_frame(tmp_path / "two-thumbnail")
    one, two = probe(str(tmp_path / "one-proxy")), probe(str(tmp_path / "two-proxy"))
    assert one.codecs == two.codecs == {"video": "h264", "audio": "aac"}
    assert (one.width, one.height, one.frame_count) == (two.width, two.height, two.frame_count)
    assert abs(one.duration - two.duration) < 0.05


def test_the_single_pass_of_a_silent_video_maps_no_audio() -> None:
    silent = MediaInfo(duration=8.0, width=1920, height=1080, codecs={"video": "h264"})
    args = single_pass_command("in.mov", {"thumbnail": "t.jpg", "proxy": "p.mp4"}, silent)
    assert "0:a:0" not in args and "-c:a" not in args
    assert "scale=1280:720" in args[args.index("-filter_complex") + 1]
    poster = args[args.index("-filter_complex") + 1].split(";")[1]
    # the poster branch ends after its one frame: the frames after it are not scaled
    assert poster.startswith("[poster]trim=start=1.000,trim=end_frame=1,scale=")

"""Probing: the same MediaInfo from ffprobe JSON and from PyAV."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyframe.media import probe as probe_module
from keyframe.media.errors import InvalidMediaError
from keyframe.media.probe import MediaInfo, probe

FFPROBE_DOCUMENT = {
    "streams": [
        {
            "codec_type": "video",
            "codec_name": "prores",
            "width": 1920,
            "height": 1080,
            "avg_frame_rate": "24000/1001",
            "nb_frames": "240",
            "tags": {"timecode": "01:00:00:00"},
        },
        {"codec_type": "audio", "codec_name": "pcm_s24le", "sample_rate": "48000", "channels": 2},
        {"codec_type": "video", "codec_name": "mjpeg", "disposition": {"attached_pic": 1}},
    ],
    "format": {"duration": "10.010000", "bit_rate": "150000000"},
}


def test_ffprobe_json_becomes_media_info() -> None:
    info = probe_module._from_ffprobe(FFPROBE_DOCUMENT)
    assert info.to_json() == {
        "duration": 10.01,
        "frameCount": 240,
        "fps": 23.976,
        "width": 1920,
        "height": 1080,
        "codecs": {"video": "prores", "audio": "pcm_s24le"},
        "bitRate": 150_000_000,
        "startTimecode": "01:00:00:00",
        "sampleRate": 48000,
        "channels": 2,
    }


def test_frame_count_is_computed_when_the_container_does_not_say() -> None:
    document = {
        "streams": [
            {
                "codec_type": "video",
                "codec_name": "vp9",
                "width": 640,
                "height": 360,
                "avg_frame_rate": "25/1",
            }
        ],
        "format": {"duration": "4.0"},
    }
    assert probe_module._from_ffprobe(document).frame_count == 100


def test_cover_art_is_not_a_picture_stream() -> None:
    document = {
        "streams": [
            {"codec_type": "audio", "codec_name": "mp3"},
            {"codec_type": "video", "codec_name": "png", "disposition": {"attached_pic": 1}},
        ],
        "format": {"duration": "3.0"},
    }
    info = probe_module._from_ffprobe(document)
    assert not info.has_video and info.has_audio


def test_pyav_probe_of_a_real_clip(samples: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no ffprobe on PATH (as on the local stack): PyAV answers
    monkeypatch.setattr(probe_module, "ffprobe_exe", lambda: None)

    info = probe(str(samples["mp4"]))

    assert isinstance(info, MediaInfo)
    assert abs(info.duration - 1.0) < 0.1
    assert (info.width, info.height, info.fps, info.frame_count) == (320, 240, 24.0, 24)
    assert info.codecs == {"video": "h264", "audio": "aac"}
    assert info.bit_rate and info.bit_rate > 0


def test_pyav_probe_of_a_wav(samples: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "ffprobe_exe", lambda: None)
    info = probe(str(samples["wav"]))
    assert info.codecs == {"audio": "pcm_s16le"}
    assert (info.sample_rate, info.channels) == (48000, 1)
    assert info.width is None and info.frame_count is None


def test_an_unreadable_file_is_invalid_media(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "ffprobe_exe", lambda: None)
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x1a\x45\xdf\xa3" + b"\xff" * 4000)
    with pytest.raises(InvalidMediaError, match="FFmpeg cannot read the file"):
        probe(str(junk))

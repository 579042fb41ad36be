"""The real type of a file from its bytes: magic numbers, claims, truncation."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from keyframe.media.detect import (
    HEAD_BYTES,
    check_claims,
    check_structure,
    claimed_kinds,
    detect,
    mpeg_audio_frame_length,
    walk_boxes,
)
from keyframe.media.errors import InvalidMediaError, TypeMismatchError
from tests.unit.media.samples import truncate, video_clip

EXPECTED = {
    "mp4": ("video", "mp4"),
    "mov": ("video", "mov"),
    "mkv": ("video", "mkv"),
    "webm": ("video", "webm"),
    "mpeg": ("video", "mpeg"),
    "mpegts": ("video", "mpegts"),
    "mxf": ("video", "mxf"),
    "png": ("image", "png"),
    "jpeg": ("image", "jpeg"),
    "tiff": ("image", "tiff"),
    "exr": ("image", "exr"),
    "wav": ("audio", "wav"),
    "mp3": ("audio", "mp3"),
    "flac": ("audio", "flac"),
    "aac": ("audio", "aac"),
    "fbx": ("scene", "fbx"),
    "fbx-ascii": ("scene", "fbx"),
    "abc": ("scene", "abc"),
    "usdc": ("scene", "usdc"),
    "usda": ("scene", "usda"),
    "usdz": ("scene", "usdz"),
    "blend": ("scene", "blend"),
    "sif": ("scene", "sif"),
    "sifz": ("scene", "sifz"),
    "obj": ("scene", "obj"),
    "gltf": ("scene", "gltf"),
    "glb": ("scene", "glb"),
    "zip": ("archive", "zip"),
}


def _reader(data: bytes):
    return lambda offset, length: data[offset : offset + length]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_accepted_format_is_recognised_from_its_bytes(samples: dict[str, Path], name: str) -> None:
    # Given a real (or faithfully handmade) file of the format
    data = samples[name].read_bytes()

    # When its first bytes are inspected and its structure checked
    found = detect(data[:HEAD_BYTES], size=len(data))
    check_structure(found, _reader(data), len(data))

    # Then kind and format are right, and its own name and content type agree with it
    assert (found.kind, found.format) == EXPECTED[name]
    check_claims(found, samples[name].name, found.content_type)


def test_a_zip_renamed_mp4_is_a_type_mismatch(samples: dict[str, Path]) -> None:
    # Given a zip archive uploaded as clip.mp4 / video/mp4
    data = samples["zip"].read_bytes()
    found = detect(data, size=len(data))

    # When the claims are checked, Then it fails saying what the bytes are and what was claimed
    with pytest.raises(TypeMismatchError) as raised:
        check_claims(found, "clip.mp4", "video/mp4")
    assert raised.value.code == "TYPE_MISMATCH"
    assert "archive (zip)" in raised.value.message
    assert "clip.mp4" in raised.value.message


def test_the_declared_content_type_is_checked_even_with_a_neutral_name(samples: dict[str, Path]) -> None:
    data = samples["png"].read_bytes()
    found = detect(data, size=len(data))
    with pytest.raises(TypeMismatchError, match="content type 'video/mp4'"):
        check_claims(found, "frame", "video/mp4")


def test_generic_claims_leave_the_bytes_to_decide(samples: dict[str, Path]) -> None:
    # Given an FBX uploaded with no extension and application/octet-stream
    data = samples["fbx"].read_bytes()
    found = detect(data, size=len(data))

    # Then nothing is claimed and nothing is refused
    assert claimed_kinds("character_rig", "application/octet-stream") == {}
    check_claims(found, "character_rig", "application/octet-stream")


def test_sound_only_containers_may_be_declared_audio(samples: dict[str, Path]) -> None:
    data = samples["mkv"].read_bytes()
    check_claims(detect(data, size=len(data)), "dialogue.mka", "audio/x-matroska")


def test_a_usdz_declared_as_zip_is_accepted(samples: dict[str, Path]) -> None:
    data = samples["usdz"].read_bytes()
    check_claims(detect(data, size=len(data)), "set.zip", "application/zip")


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "a Linux executable"),
        (b"RIFF\x10\x00\x00\x00AVI LIST", "an AVI video"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "a HEIF/AVIF image"),
        (b"Dear diary, today I rendered nothing at all.\n", "a text file"),
        (bytes(range(7, 250)) * 3, "of no recognised type"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 20, "a gzip-compressed file"),
    ],
)
def test_other_files_are_rejected_with_what_they_look_like(data: bytes, what: str) -> None:
    with pytest.raises(InvalidMediaError) as raised:
        detect(data, size=len(data))
    assert raised.value.code == "INVALID_MEDIA"
    assert what in raised.value.message
    assert "accepted:" in raised.value.message


def test_an_empty_file_is_rejected() -> None:
    with pytest.raises(InvalidMediaError, match="empty"):
        detect(b"", size=0)


@pytest.mark.parametrize("faststart", [False, True], ids=["moov-at-end", "moov-first"])
def test_a_truncated_mp4_is_found_from_its_boxes(tmp_path: Path, faststart: bool) -> None:
    # Given a real MP4 cut at 60 % (an upload that stopped midway)
    whole = video_clip(tmp_path / "whole.mp4", seconds=1, size="320x240", faststart=faststart)
    cut = truncate(whole, tmp_path / "cut.mp4").read_bytes()

    # When its header is detected, it still looks like an MP4 ...
    found = detect(cut[:HEAD_BYTES], size=len(cut))
    assert found.format == "mp4"

    # ... but the structure check says it is truncated
    with pytest.raises(InvalidMediaError, match="truncated") as raised:
        check_structure(found, _reader(cut), len(cut))
    assert raised.value.code == "INVALID_MEDIA"


def test_an_mp4_without_moov_is_rejected() -> None:
    # Given ftyp + mdat but no index (a recording that was never finished)
    ftyp = struct.pack(">I4s4sI", 16, b"ftyp", b"isom", 512)
    mdat = struct.pack(">I4s", 24, b"mdat") + b"\x00" * 16
    data = ftyp + mdat

    with pytest.raises(InvalidMediaError, match="no 'moov'"):
        walk_boxes(_reader(data), len(data))


def test_a_box_walk_reads_only_headers_and_lists_the_boxes(samples: dict[str, Path]) -> None:
    data = samples["mp4"].read_bytes()
    reads: list[tuple[int, int]] = []

    def read(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return data[offset : offset + length]

    boxes = walk_boxes(read, len(data))

    assert {"ftyp", "moov", "mdat"} <= {box.type for box in boxes}
    assert sum(box.size for box in boxes) == len(data)
    assert all(length <= 16 for _, length in reads)


def test_a_truncated_wav_is_found_from_its_riff_size(samples: dict[str, Path]) -> None:
    data = samples["wav"].read_bytes()
    cut = data[: len(data) // 2]
    found = detect(cut, size=len(cut))
    with pytest.raises(InvalidMediaError, match="truncated"):
        check_structure(found, _reader(cut), len(cut))


def test_mpeg_audio_frame_headers() -> None:
    # MPEG-1 layer III, 128 kbit/s, 44.1 kHz, no padding: 417 bytes per frame
    assert mpeg_audio_frame_length(b"\xff\xfb\x90\x00") == (3, 417)
    # reserved bitrate index or sample rate: not a frame
    assert mpeg_audio_frame_length(b"\xff\xfb\xf0\x00") is None
    assert mpeg_audio_frame_length(b"\xff\xfb\x9c\x00") is None


def test_text_that_only_mentions_vertices_is_not_obj() -> None:
    text = b"v 1 2 3\nthis is a readme about vertices\nand nothing else\n"
    with pytest.raises(InvalidMediaError, match="a text file"):
        detect(text, size=len(text))

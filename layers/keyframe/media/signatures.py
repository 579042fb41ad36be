"""Binary formats known by a fixed signature (magic numbers) in a file's first bytes.

:func:`binary_format` is the first step of :func:`keyframe.media.detect.detect`: ISO BMFF (mp4, mov,
m4a), Matroska/WebM, MPEG program and transport streams, MXF, the images, RIFF WAVE and FLAC, the
binary scenes (FBX, Alembic, USDC, Blender, glb, gzip-compressed Blender/Synfig), zip and USDZ, and
MPEG audio / ADTS frames. Well-known formats that are not accepted (a PDF, an AVI, a HEIF photo ...)
are refused by name. Pure: no I/O.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from keyframe.media.detected import HEAD_BYTES, Detected, found, not_accepted, u32be

# --- ISO BMFF (mp4, mov, m4a) ---------------------------------------------------------------------

_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
_QT_FIRST_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _iso_bmff(head: bytes) -> Detected | None:
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return found("video", "mov", "video/quicktime", "audio")
        if brand in _AUDIO_BRANDS:
            return found("audio", "m4a", "audio/mp4", "video")
        if brand in _HEIF_BRANDS:
            raise not_accepted("a HEIF/AVIF image")
        if brand == b"crx ":
            raise not_accepted("a Canon RAW photo")
        return found("video", "mp4", "video/mp4", "audio")
    if len(head) >= 8 and head[4:8] in _QT_FIRST_BOXES and (u32be(head, 0) in (0, 1) or u32be(head, 0) >= 8):
        return found("video", "mov", "video/quicktime", "audio")
    return None


# --- MPEG audio (mp3) and ADTS (aac) --------------------------------------------------------------

_MP3_BITRATES = {
    (1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (2, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {1: (44100, 48000, 32000), 2: (22050, 24000, 16000), 25: (11025, 12000, 8000)}


def mpeg_audio_frame_length(header: bytes) -> tuple[int, int] | None:
    """``(layer, frame length in bytes)`` of an MPEG audio frame header, or ``None`` if not one."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version_bits, layer_bits = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version_bits == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    version = {3: 1, 2: 2, 0: 25}[version_bits]
    layer = 4 - layer_bits
    bitrate = _MP3_BITRATES[(1 if version == 1 else 2, layer)][bitrate_index] * 1000
    rate = _MP3_RATES[version][rate_index]
    if layer == 1:
        return layer, (12 * bitrate // rate + padding) * 4
    if layer == 3 and version != 1:
        return layer, 72 * bitrate // rate + padding
    return layer, 144 * bitrate // rate + padding


def _adts_frame_length(header: bytes) -> int | None:
    if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
        return None
    length = ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
    return length if length >= 7 else None


def _next_frame_agrees(head: bytes, offset: int, length: int, same: Callable[[bytes], object]) -> bool:
    following = offset + length
    if following + 7 > len(head):
        return True  # one frame in view (a tiny file): nothing to contradict it
    return same(head[following:]) is not None


def _audio_frames(head: bytes) -> Detected | None:
    offset = 0
    tagged = head[:3] == b"ID3" and len(head) >= 10
    if tagged:
        tag_size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
        offset = 10 + tag_size + (10 if head[5] & 0x10 else 0)
        if offset + 4 > len(head):
            return found("audio", "mp3", "audio/mpeg")  # a large tag (cover art): ID3 means MPEG audio
        while offset < len(head) - 4 and head[offset] == 0:
            offset += 1
    frame = head[offset:]
    adts = _adts_frame_length(frame)
    if adts and _next_frame_agrees(head, offset, adts, _adts_frame_length):
        return found("audio", "aac", "audio/aac")
    mpeg = mpeg_audio_frame_length(frame)
    if mpeg and _next_frame_agrees(head, offset, mpeg[1], mpeg_audio_frame_length):
        return found("audio", "mp3" if mpeg[0] == 3 else "mp2", "audio/mpeg")
    if tagged:
        return found("audio", "mp3", "audio/mpeg")
    return None


# --- containers identified by a fixed signature ---------------------------------------------------

_MXF_PARTITION_KEY = bytes.fromhex("060e2b34020501010d01020101")


def _video_signatures(head: bytes) -> Detected | None:
    if head[:4] == b"\x1a\x45\xdf\xa3":
        doc = head[:64]
        if b"webm" in doc:
            return found("video", "webm", "video/webm", "audio")
        if b"matroska" in doc:
            return found("video", "mkv", "video/x-matroska", "audio")
        raise not_accepted("an EBML file that is neither Matroska nor WebM")
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return found("video", "mpeg", "video/mpeg", "audio")
    for start, step in ((0, 188), (4, 192)):
        offsets = [start + step * i for i in range(5) if start + step * i < len(head)]
        if len(offsets) >= 2 and all(head[o] == 0x47 for o in offsets):
            return found("video", "mpegts", "video/mp2t", "audio")
    if head.find(_MXF_PARTITION_KEY, 0, HEAD_BYTES) != -1:
        return found("video", "mxf", "application/mxf", "audio")
    return None


def _image_signatures(head: bytes) -> Detected | None:
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return found("image", "png", "image/png")
    if head[:3] == b"\xff\xd8\xff":
        return found("image", "jpeg", "image/jpeg")
    if head[:4] == b"\x76\x2f\x31\x01":
        return found("image", "exr", "image/x-exr")
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return found("image", "tiff", "image/tiff")
    return None


def _riff_and_flac(head: bytes) -> Detected | None:
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and len(head) >= 12:
        form = head[8:12]
        if form == b"WAVE":
            return found("audio", "wav", "audio/wav")
        if form == b"AVI ":
            raise not_accepted("an AVI video")
        if form == b"WEBP":
            raise not_accepted("a WebP image")
        raise not_accepted(f"a RIFF {form.decode('latin-1').strip()!r} file")
    if head[:4] == b"fLaC":
        return found("audio", "flac", "audio/flac")
    return None


def _gunzip_head(head: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=47)
    try:
        return inflater.decompress(head, HEAD_BYTES)
    except zlib.error:
        return b""


def _scene_signatures(head: bytes) -> Detected | None:
    if head[:21] == b"Kaydara FBX Binary  \x00":
        return found("scene", "fbx", "application/vnd.autodesk.fbx")
    if head[:5] == b"Ogawa":
        return found("scene", "abc", "application/x-alembic")
    if head[:8] == b"PXR-USDC":
        return found("scene", "usdc", "model/vnd.usd")
    if head[:7] == b"BLENDER" and head[7:8] in (b"-", b"_") and head[8:9] in (b"v", b"V"):
        return found("scene", "blend", "application/x-blender")
    if head[:4] == b"glTF" and len(head) >= 12:
        if struct.unpack_from("<I", head, 4)[0] != 2:
            raise not_accepted("a glTF binary of an unsupported version")
        return found("scene", "glb", "model/gltf-binary")
    if head[:2] == b"\x1f\x8b":
        inner = _gunzip_head(head)
        if inner[:7] == b"BLENDER":
            return found("scene", "blend", "application/x-blender")
        if b"<canvas" in inner[:4096]:
            return found("scene", "sifz", "application/x-synfig+gzip")
        raise not_accepted("a gzip-compressed file that is not a Synfig or Blender scene")
    if head[:4] == b"\x28\xb5\x2f\xfd":
        raise not_accepted("a Zstandard-compressed file (save .blend files uncompressed)")
    return None


def _zip(head: bytes) -> Detected | None:
    if head[:4] in (b"PK\x05\x06", b"PK\x07\x08"):
        return found("archive", "zip", "application/zip")
    if head[:4] != b"PK\x03\x04":
        return None
    if len(head) >= 30:
        name_length = struct.unpack_from("<H", head, 26)[0]
        first = head[30 : 30 + name_length].decode("utf-8", errors="replace").lower()
        if first.endswith((".usdc", ".usda", ".usd")):
            return found("scene", "usdz", "model/vnd.usdz+zip", "archive")
    return found("archive", "zip", "application/zip")


_OTHER_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "a Linux executable"),
    (b"MZ", "a Windows executable"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"GIF8", "a GIF image"),
    (b"OggS", "an Ogg file"),
    (b"8BPS", "a Photoshop document"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (only Ogawa Alembic caches are accepted)"),
)


def binary_format(head: bytes) -> Detected | None:
    """Identify a binary file from its first bytes (up to :data:`~keyframe.media.detected.HEAD_BYTES`).

    Returns
    -------
    Detected or None
        The accepted format whose signature the bytes carry; ``None`` when none matches (text, or
        bytes of no known type).

    Raises
    ------
    InvalidMediaError
        The bytes are a known format that is not accepted (a PDF, an AVI video, a HEIF image, a
        gzip file that is no scene ...); the message names it and lists the accepted types.
    """
    for check in (_iso_bmff, _video_signatures, _image_signatures, _riff_and_flac, _scene_signatures, _zip):
        detected = check(head)
        if detected:
            return detected
    for signature, what in _OTHER_SIGNATURES:
        if head.startswith(signature):
            raise not_accepted(what)
    return _audio_frames(head)

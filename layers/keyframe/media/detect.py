"""What a file really is, from its bytes: magic numbers, container structure, text heuristics.

The name and the declared content type of an upload are claims; :func:`detect` looks only at the
first bytes (:data:`HEAD_BYTES` is enough for every accepted format) and :func:`check_structure` reads
a few more (ISO BMFF top-level box headers, the RIFF size) through a ``read(offset, length)`` callable
so that a truncated file is found without downloading it. :func:`check_claims` then compares what was
found with what was claimed.

Accepted (kind: formats):

- video: mp4 (and 3GP), mov, mkv, webm, mpeg (program stream / elementary), mpegts (TS and M2TS), mxf
- image: png, jpeg, exr, tiff
- audio: wav, mp3 (and MPEG layer I/II), aac (ADTS), flac, m4a
- scene: fbx (binary and ASCII), abc (Ogawa), usda, usdc, usdz, blend (plain or gzip), sif, sifz, obj,
  gltf, glb
- archive: zip
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from keyframe.media.errors import InvalidMediaError, TypeMismatchError

HEAD_BYTES = 64 * 1024
"""How many leading bytes :func:`detect` needs (one Range GET)."""

KINDS = ("video", "image", "audio", "scene", "archive")
DERIVED_KINDS = frozenset({"video", "image", "audio"})
"""Kinds for which the pipeline derives a thumbnail, proxy or waveform."""

ACCEPTED_SUMMARY = (
    "video (mp4, mov, mkv, webm, mpeg, mxf), image (png, jpeg, exr, tiff), audio (wav, mp3, aac, flac), "
    "scene (fbx, abc, usd/usda/usdc/usdz, blend, sif/sifz, obj, gltf/glb) or zip"
)


@dataclass(frozen=True)
class Detected:
    """The real type of a file.

    Attributes
    ----------
    kind:
        ``video``, ``image``, ``audio``, ``scene`` or ``archive``.
    format:
        Short format name (``mp4``, ``mov``, ``png``, ``usdz``, ``zip`` ...).
    content_type:
        The canonical MIME type of ``format``.
    claims:
        Kinds that a client may truthfully declare for these bytes (an MP4 holding only sound is
        ``audio/mp4``, a USDZ is also a zip).
    """

    kind: str
    format: str
    content_type: str
    claims: frozenset[str] = field(default_factory=frozenset)

    def accepts_claim(self, kind: str) -> bool:
        """True if a client declaring ``kind`` told the truth about these bytes."""
        return kind == self.kind or kind in self.claims


def _found(kind: str, fmt: str, content_type: str, *also: str) -> Detected:
    return Detected(kind, fmt, content_type, frozenset(also))


def _reject(what: str) -> InvalidMediaError:
    return InvalidMediaError(
        f"The file is {what}, which is not an accepted type; accepted: {ACCEPTED_SUMMARY}",
        details={"found": what},
    )


def _u32be(data: bytes, offset: int) -> int:
    return struct.unpack_from(">I", data, offset)[0]


# --- ISO BMFF (mp4, mov, m4a) ---------------------------------------------------------------------

_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
_QT_FIRST_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _iso_bmff(head: bytes) -> Detected | None:
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return _found("video", "mov", "video/quicktime", "audio")
        if brand in _AUDIO_BRANDS:
            return _found("audio", "m4a", "audio/mp4", "video")
        if brand in _HEIF_BRANDS:
            raise _reject("a HEIF/AVIF image")
        if brand == b"crx ":
            raise _reject("a Canon RAW photo")
        return _found("video", "mp4", "video/mp4", "audio")
    if (
        len(head) >= 8
        and head[4:8] in _QT_FIRST_BOXES
        and (_u32be(head, 0) in (0, 1) or _u32be(head, 0) >= 8)
    ):
        return _found("video", "mov", "video/quicktime", "audio")
    return None


@dataclass(frozen=True)
class Box:
    """One top-level ISO BMFF box: its four-character ``type``, byte ``offset`` and total ``size``."""

    type: str
    offset: int
    size: int


def walk_boxes(read: Callable[[int, int], bytes], size: int, *, max_boxes: int = 100_000) -> list[Box]:
    """Walk the top-level boxes of an ISO BMFF file of ``size`` bytes, reading only box headers.

    Parameters
    ----------
    read:
        ``read(offset, length) -> bytes`` (at most ``length`` bytes from ``offset``; fewer at the end).
    size:
        The file size in bytes.

    Returns
    -------
    list of Box
        In file order.

    Raises
    ------
    InvalidMediaError
        A box runs past the end of the file (truncated upload), a header is malformed, or there is no
        ``moov`` box (the index that players need: a recording that was cut off never wrote it).
    """
    boxes: list[Box] = []
    offset = 0
    while offset < size:
        if len(boxes) >= max_boxes:
            raise InvalidMediaError(f"The file has more than {max_boxes} top-level boxes; it is corrupt")
        header = read(offset, 16)
        if len(header) < 8:
            raise InvalidMediaError(
                f"The file is truncated: a box header at byte {offset} is cut off (the file is {size} bytes)"
            )
        box_size, box_type = _u32be(header, 0), header[4:8]
        header_size = 8
        if box_size == 1:
            if len(header) < 16:
                raise InvalidMediaError(f"The file is truncated inside the box header at byte {offset}")
            box_size, header_size = struct.unpack_from(">Q", header, 8)[0], 16
        elif box_size == 0:
            box_size = size - offset
        name = box_type.decode("latin-1")
        if box_size < header_size or not all(0x20 <= c <= 0x7E for c in box_type):
            raise InvalidMediaError(f"The file is corrupt: malformed box {name!r} at byte {offset}")
        if offset + box_size > size:
            raise InvalidMediaError(
                f"The file is truncated: its {name!r} box at byte {offset} needs {box_size} bytes "
                f"but the file ends {size - offset} bytes later",
                details={"box": name, "offset": offset, "boxSize": box_size, "fileSize": size},
            )
        boxes.append(Box(name, offset, box_size))
        offset += box_size
    if not any(box.type == "moov" for box in boxes):
        raise InvalidMediaError(
            "The file has no 'moov' box (the index of its media): it is truncated or was never finished",
            details={"boxes": [box.type for box in boxes][:20]},
        )
    return boxes


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
            return _found("audio", "mp3", "audio/mpeg")  # a large tag (cover art): ID3 means MPEG audio
        while offset < len(head) - 4 and head[offset] == 0:
            offset += 1
    frame = head[offset:]
    adts = _adts_frame_length(frame)
    if adts and _next_frame_agrees(head, offset, adts, _adts_frame_length):
        return _found("audio", "aac", "audio/aac")
    mpeg = mpeg_audio_frame_length(frame)
    if mpeg and _next_frame_agrees(head, offset, mpeg[1], mpeg_audio_frame_length):
        return _found("audio", "mp3" if mpeg[0] == 3 else "mp2", "audio/mpeg")
    if tagged:
        return _found("audio", "mp3", "audio/mpeg")
    return None


# --- containers identified by a fixed signature ---------------------------------------------------

_MXF_PARTITION_KEY = bytes.fromhex("060e2b34020501010d01020101")


def _video_signatures(head: bytes) -> Detected | None:
    if head[:4] == b"\x1a\x45\xdf\xa3":
        doc = head[:64]
        if b"webm" in doc:
            return _found("video", "webm", "video/webm", "audio")
        if b"matroska" in doc:
            return _found("video", "mkv", "video/x-matroska", "audio")
        raise _reject("an EBML file that is neither Matroska nor WebM")
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return _found("video", "mpeg", "video/mpeg", "audio")
    for start, step in ((0, 188), (4, 192)):
        offsets = [start + step * i for i in range(5) if start + step * i < len(head)]
        if len(offsets) >= 2 and all(head[o] == 0x47 for o in offsets):
            return _found("video", "mpegts", "video/mp2t", "audio")
    if head.find(_MXF_PARTITION_KEY, 0, HEAD_BYTES) != -1:
        return _found("video", "mxf", "application/mxf", "audio")
    return None


def _image_signatures(head: bytes) -> Detected | None:
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return _found("image", "png", "image/png")
    if head[:3] == b"\xff\xd8\xff":
        return _found("image", "jpeg", "image/jpeg")
    if head[:4] == b"\x76\x2f\x31\x01":
        return _found("image", "exr", "image/x-exr")
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _found("image", "tiff", "image/tiff")
    return None


def _riff_and_flac(head: bytes) -> Detected | None:
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and len(head) >= 12:
        form = head[8:12]
        if form == b"WAVE":
            return _found("audio", "wav", "audio/wav")
        if form == b"AVI ":
            raise _reject("an AVI video")
        if form == b"WEBP":
            raise _reject("a WebP image")
        raise _reject(f"a RIFF {form.decode('latin-1').strip()!r} file")
    if head[:4] == b"fLaC":
        return _found("audio", "flac", "audio/flac")
    return None


def _gunzip_head(head: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=47)
    try:
        return inflater.decompress(head, HEAD_BYTES)
    except zlib.error:
        return b""


def _scene_signatures(head: bytes) -> Detected | None:
    if head[:21] == b"Kaydara FBX Binary  \x00":
        return _found("scene", "fbx", "application/vnd.autodesk.fbx")
    if head[:5] == b"Ogawa":
        return _found("scene", "abc", "application/x-alembic")
    if head[:8] == b"PXR-USDC":
        return _found("scene", "usdc", "model/vnd.usd")
    if head[:7] == b"BLENDER" and head[7:8] in (b"-", b"_") and head[8:9] in (b"v", b"V"):
        return _found("scene", "blend", "application/x-blender")
    if head[:4] == b"glTF" and len(head) >= 12:
        if struct.unpack_from("<I", head, 4)[0] != 2:
            raise _reject("a glTF binary of an unsupported version")
        return _found("scene", "glb", "model/gltf-binary")
    if head[:2] == b"\x1f\x8b":
        inner = _gunzip_head(head)
        if inner[:7] == b"BLENDER":
            return _found("scene", "blend", "application/x-blender")
        if b"<canvas" in inner[:4096]:
            return _found("scene", "sifz", "application/x-synfig+gzip")
        raise _reject("a gzip-compressed file that is not a Synfig or Blender scene")
    if head[:4] == b"\x28\xb5\x2f\xfd":
        raise _reject("a Zstandard-compressed file (save .blend files uncompressed)")
    return None


def _zip(head: bytes) -> Detected | None:
    if head[:4] in (b"PK\x05\x06", b"PK\x07\x08"):
        return _found("archive", "zip", "application/zip")
    if head[:4] != b"PK\x03\x04":
        return None
    if len(head) >= 30:
        name_length = struct.unpack_from("<H", head, 26)[0]
        first = head[30 : 30 + name_length].decode("utf-8", errors="replace").lower()
        if first.endswith((".usdc", ".usda", ".usd")):
            return _found("scene", "usdz", "model/vnd.usdz+zip", "archive")
    return _found("archive", "zip", "application/zip")


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


# --- text formats ---------------------------------------------------------------------------------

_OBJ_KEYWORDS = frozenset(
    [
        "v",
        "vt",
        "vn",
        "vp",
        "f",
        "l",
        "p",
        "o",
        "g",
        "s",
        "mtllib",
        "usemtl",
        "cstype",
        "deg",
        "curv",
        "curv2",
        "surf",
        "parm",
        "trim",
        "hole",
        "scrv",
        "sp",
        "end",
        "con",
        "mg",
        "bevel",
        "c_interp",
        "d_interp",
        "lod",
        "shadow_obj",
        "trace_obj",
        "ctech",
        "stech",
        "bmat",
        "step",
    ]
)


def _text_of(head: bytes, truncated: bool) -> str | None:
    if b"\x00" in head:
        return None
    sample = head
    for _ in range(4):
        try:
            text = sample.decode("utf-8")
            break
        except UnicodeDecodeError:
            if not truncated or not sample:
                return None
            sample = sample[:-1]  # a multi-byte character cut by the range read
    else:
        return None
    if truncated and "\n" in text:
        text = text[: text.rindex("\n")]  # the last line may be cut off
    return text.lstrip("\ufeff")


def _looks_like_obj(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines()]
    statements = [line for line in lines if line and not line.startswith("#")]
    if not statements:
        return False
    keywords = [line.split(None, 1)[0] for line in statements]
    known = sum(1 for word in keywords if word in _OBJ_KEYWORDS)
    return "v" in keywords and known / len(statements) >= 0.95


def _looks_like_gltf(text: str, truncated: bool) -> bool:
    if not text.lstrip().startswith("{"):
        return False
    if not truncated:
        try:
            document = json.loads(text)
        except ValueError:
            return False
        return isinstance(document, dict) and isinstance(document.get("asset"), dict)
    return '"asset"' in text and '"version"' in text


def _text_formats(head: bytes, truncated: bool) -> Detected | None:
    text = _text_of(head, truncated)
    if text is None:
        return None
    stripped = text.lstrip()
    if stripped.startswith("#usda "):
        return _found("scene", "usda", "model/vnd.usda")
    if stripped.startswith("; FBX"):
        return _found("scene", "fbx", "application/vnd.autodesk.fbx")
    if stripped.startswith(("<?xml", "<canvas")) and "<canvas" in stripped[:4096]:
        return _found("scene", "sif", "application/x-synfig")
    if _looks_like_gltf(stripped, truncated):
        return _found("scene", "gltf", "model/gltf+json")
    if _looks_like_obj(text):
        return _found("scene", "obj", "model/obj")
    raise _reject("a text file")


def detect(head: bytes, *, size: int | None = None) -> Detected:
    """Identify a file from its first bytes.

    Parameters
    ----------
    head:
        The first bytes of the file (up to :data:`HEAD_BYTES`; fewer when the file is smaller).
    size:
        The whole file's size in bytes, when known (tells whether ``head`` is the whole file).

    Returns
    -------
    Detected
        Kind, format and canonical content type.

    Raises
    ------
    InvalidMediaError
        Empty, or not an accepted type; the message names what the bytes look like (a PDF, a text
        file ...) and lists the accepted types.
    """
    if not head:
        raise InvalidMediaError("The file is empty")
    truncated = size is None or size > len(head)
    for check in (_iso_bmff, _video_signatures, _image_signatures, _riff_and_flac, _scene_signatures, _zip):
        found = check(head)
        if found:
            return found
    for signature, what in _OTHER_SIGNATURES:
        if head.startswith(signature):
            raise _reject(what)
    found = _audio_frames(head) or _text_formats(head, truncated)
    if found:
        return found
    raise _reject("of no recognised type")


def check_structure(detected: Detected, read: Callable[[int, int], bytes], size: int) -> None:
    """Check the container structure that can be checked cheaply, reading little.

    - ISO BMFF (mp4, mov, m4a): every top-level box fits in the file and a ``moov`` box exists;
    - RIFF (wav): the declared RIFF size fits in the file;
    - glb: the declared total length fits in the file.

    Parameters
    ----------
    detected:
        What :func:`detect` found.
    read:
        ``read(offset, length) -> bytes`` on the stored file.
    size:
        The file size in bytes.

    Raises
    ------
    InvalidMediaError
        Truncated or malformed (the message says where).
    """
    if detected.format in ("mp4", "mov", "m4a"):
        walk_boxes(read, size)
    elif detected.format == "wav":
        header = read(0, 12)
        declared = struct.unpack_from("<I", header, 4)[0]
        if header[:4] == b"RIFF" and declared != 0xFFFFFFFF and declared + 8 > size:
            raise InvalidMediaError(
                f"The file is truncated: its RIFF header announces {declared + 8} bytes but it has {size}"
            )
    elif detected.format == "glb":
        declared = struct.unpack_from("<I", read(0, 12), 8)[0]
        if declared > size:
            raise InvalidMediaError(
                f"The file is truncated: its glTF header announces {declared} bytes but it has {size}"
            )


# --- claims: the file name's extension and the declared content type ------------------------------

EXTENSION_KINDS: dict[str, str] = {
    **dict.fromkeys(
        ("mp4", "m4v", "mov", "qt", "mkv", "webm", "mpg", "mpeg", "m2v", "ts", "m2ts", "mts", "mxf", "3gp"),
        "video",
    ),
    **dict.fromkeys(("png", "jpg", "jpeg", "jpe", "exr", "tif", "tiff"), "image"),
    **dict.fromkeys(("wav", "wave", "bwf", "mp3", "mp2", "aac", "flac", "m4a"), "audio"),
    **dict.fromkeys(
        ("fbx", "abc", "usd", "usda", "usdc", "usdz", "blend", "sif", "sifz", "obj", "gltf", "glb"), "scene"
    ),
    "zip": "archive",
}
"""File extension -> the kind it claims. Unknown extensions claim nothing."""

_NEUTRAL_CONTENT_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/binary", "text/plain"}
)
_CONTENT_TYPE_KINDS: dict[str, str] = {
    "application/zip": "archive",
    "application/x-zip-compressed": "archive",
    "application/mxf": "video",
    "application/vnd.autodesk.fbx": "scene",
    "application/x-alembic": "scene",
    "application/x-blender": "scene",
    "application/x-synfig": "scene",
}


def claimed_kinds(file_name: str | None, content_type: str | None) -> dict[str, str]:
    """The kinds the upload claims, by source: ``{"extension": ..., "contentType": ...}``.

    A source that claims nothing (no or an unknown extension; ``application/octet-stream``) is left
    out, so an honest generic upload is judged by its bytes alone.
    """
    claims: dict[str, str] = {}
    suffix = PurePosixPath(file_name or "").suffix.lower().lstrip(".")
    if suffix in EXTENSION_KINDS:
        claims["extension"] = EXTENSION_KINDS[suffix]
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime not in _NEUTRAL_CONTENT_TYPES:
        major = mime.split("/")[0]
        kind = _CONTENT_TYPE_KINDS.get(mime) or {
            "video": "video",
            "image": "image",
            "audio": "audio",
            "model": "scene",
        }.get(major)
        if kind:
            claims["contentType"] = kind
    return claims


def check_claims(detected: Detected, file_name: str | None, content_type: str | None) -> None:
    """Raise when the name or the declared content type claims another kind than the bytes are.

    Raises
    ------
    TypeMismatchError
        E.g. ``clip.mp4`` / ``video/mp4`` whose bytes are a zip archive; the message names both.
    """
    for source, kind in claimed_kinds(file_name, content_type).items():
        if not detected.accepts_claim(kind):
            said = (
                f"its name {file_name!r}" if source == "extension" else f"its content type {content_type!r}"
            )
            raise TypeMismatchError(
                f"The file's bytes are {detected.kind} ({detected.format}) but {said} says {kind}",
                details={"detected": {"kind": detected.kind, "format": detected.format}, source: kind},
            )

"""Small real media files made with FFmpeg, and handcrafted headers of scene formats, for tests.

``make_samples(folder)`` writes every sample once (about 2 s on 2 cores); the unit, integration and
e2e pipeline tests share it. FFmpeg is ``keyframe.media.ffmpeg.ffmpeg_exe()`` (PATH or the
imageio-ffmpeg wheel), so nothing needs installing.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import subprocess
import zipfile
from pathlib import Path

from keyframe.media.ffmpeg import ffmpeg_exe

_VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24:duration=1"]
_AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1:sample_rate=48000"]

FFMPEG_SAMPLES: dict[str, list[str]] = {
    "mp4": [
        *_VIDEO,
        *_AUDIO,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        "-f",
        "mp4",
    ],
    "mov": [*_VIDEO, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mov"],
    "mkv": [
        *_VIDEO,
        *_AUDIO,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "flac",
        "-shortest",
        "-f",
        "matroska",
    ],
    "webm": [*_VIDEO, "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k", "-f", "webm"],
    "mpeg": [*_VIDEO, "-c:v", "mpeg1video", "-f", "mpeg"],
    "mpegts": [*_VIDEO, "-c:v", "mpeg2video", "-f", "mpegts"],
    "mxf": [*_VIDEO, "-c:v", "mpeg2video", "-r", "25", "-f", "mxf"],
    "png": [*_VIDEO, "-frames:v", "1", "-c:v", "png", "-f", "image2"],
    "jpeg": [*_VIDEO, "-frames:v", "1", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-f", "image2"],
    "tiff": [*_VIDEO, "-frames:v", "1", "-c:v", "tiff", "-f", "image2"],
    "wav": [*_AUDIO, "-c:a", "pcm_s16le", "-f", "wav"],
    "mp3": [*_AUDIO, "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    "flac": [*_AUDIO, "-c:a", "flac", "-f", "flac"],
    "aac": [*_AUDIO, "-c:a", "aac", "-b:a", "64k", "-f", "adts"],
}
"""Format -> FFmpeg output options (inputs are lavfi test sources)."""

EXTENSIONS = {"mpeg": "mpg", "mpegts": "ts", "jpeg": "jpg", "tiff": "tif"}


def _fbx_binary() -> bytes:
    return b"Kaydara FBX Binary  \x00\x1a\x00" + struct.pack("<I", 7400) + b"\x00" * 64


def _usdz() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("scene.usdc", b"PXR-USDC" + b"\x00" * 80)
        archive.writestr("textures/wood.png", b"\x89PNG\r\n\x1a\n")
    return out.getvalue()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "shot list\n" * 20)
    return out.getvalue()


def _glb() -> bytes:
    document = json.dumps({"asset": {"version": "2.0"}}).encode()
    document += b" " * (-len(document) % 4)
    chunk = struct.pack("<I4s", len(document), b"JSON") + document
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunk)) + chunk


_SIF = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<canvas version="1.2" width="480" height="270" '
    'xres="2834" yres="2834" view-box="-4 2.25 4 -2.25" fps="24" begin-time="0f" end-time="5s">\n'
    "<name>shot</name>\n</canvas>\n"
)
_OBJ = (
    "# cube\nmtllib cube.mtl\no Cube\nv 1 1 -1\nv 1 -1 -1\nv 1 1 1\nvt 0 0\nvn 0 1 0\n"
    "usemtl wood\ns off\nf 1/1/1 2/1/1 3/1/1\n"
)

HANDMADE_SAMPLES: dict[str, tuple[str, bytes]] = {
    "exr": ("exr", b"\x76\x2f\x31\x01\x02\x00\x00\x00channels\x00chlist\x00" + b"\x00" * 64),
    "fbx": ("fbx", _fbx_binary()),
    "fbx-ascii": ("fbx", b"; FBX 7.4.0 project file\n; ----\nFBXHeaderExtension:  {\n}\n"),
    "abc": ("abc", b"Ogawa\xff\x00\x01" + b"\x00" * 64),
    "usdc": ("usdc", b"PXR-USDC\x00\x08\x00\x00\x00\x00\x00\x00" + b"\x00" * 64),
    "usda": ("usda", b'#usda 1.0\n(\n    defaultPrim = "World"\n)\n\ndef Xform "World"\n{\n}\n'),
    "usdz": ("usdz", _usdz()),
    "blend": ("blend", b"BLENDER-v402REND" + b"\x00" * 64),
    "sif": ("sif", _SIF.encode()),
    "sifz": ("sifz", gzip.compress(_SIF.encode())),
    "obj": ("obj", _OBJ.encode()),
    "gltf": ("gltf", json.dumps({"asset": {"version": "2.0"}, "scenes": [{"nodes": []}]}).encode()),
    "glb": ("glb", _glb()),
    "zip": ("zip", _zip()),
}
"""Sample name -> (extension, bytes) for formats FFmpeg does not write."""


def ffmpeg_sample(fmt: str, path: Path) -> Path:
    """Write the FFmpeg sample ``fmt`` (a key of :data:`FFMPEG_SAMPLES`) to ``path``."""
    args = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        *FFMPEG_SAMPLES[fmt],
        str(path),
    ]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return path


def make_samples(folder: Path) -> dict[str, Path]:
    """Every sample in ``folder`` as ``{name: path}`` (FFmpeg-made and handmade)."""
    folder.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    for fmt in FFMPEG_SAMPLES:
        found[fmt] = ffmpeg_sample(fmt, folder / f"sample.{EXTENSIONS.get(fmt, fmt)}")
    for name, (extension, data) in HANDMADE_SAMPLES.items():
        path = folder / f"{name}.{extension}"
        path.write_bytes(data)
        found[name] = path
    return found


def video_clip(
    path: Path,
    *,
    seconds: float = 2.0,
    size: str = "1280x720",
    rate: int = 24,
    audio: bool = True,
    faststart: bool = False,
) -> Path:
    """An H.264 (+ AAC) MP4 test clip of ``seconds`` at ``size``/``rate``."""
    args = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={rate}:duration={seconds}",
    ]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if faststart:
        args += ["-movflags", "+faststart"]
    subprocess.run([*args, str(path)], check=True, capture_output=True, timeout=120)
    return path


def truncate(source: Path, target: Path, keep: float = 0.6) -> Path:
    """Copy the first ``keep`` fraction of ``source`` to ``target`` (an upload cut off midway)."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target

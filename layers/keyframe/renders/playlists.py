"""HLS playlist text: read the master and media playlists FFmpeg wrote, and rewrite their URIs.

Pure functions (no I/O), used by :mod:`keyframe.renders.playback` to turn relative URIs
(``720p/index.m3u8``, ``segment_000.ts``) into presigned URLs, by the worker to describe the
renditions it made, and by tests to check segment durations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass(frozen=True)
class Variant:
    """One ``#EXT-X-STREAM-INF`` entry of a master playlist.

    Attributes
    ----------
    uri:
        The media playlist's URI as written (relative to the master).
    bandwidth:
        Peak bit rate (bit/s).
    width, height:
        ``RESOLUTION`` (pixels; 0 when absent).
    codecs:
        ``CODECS`` (empty when absent).
    """

    uri: str
    bandwidth: int
    width: int
    height: int
    codecs: str


def attributes(tag_line: str) -> dict[str, str]:
    """The attribute list of a tag line (``#EXT-X-STREAM-INF:BANDWIDTH=1,...``), quotes removed."""
    _, _, body = tag_line.partition(":")
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(body)}


def parse_master(text: str) -> list[Variant]:
    """The variants of a master playlist, in order.

    Raises
    ------
    ValueError
        ``text`` is not an HLS playlist (no ``#EXTM3U``) or holds no variant.
    """
    lines = [line.strip() for line in text.splitlines()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an HLS playlist")
    variants: list[Variant] = []
    pending: dict[str, str] | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = attributes(line)
        elif line and not line.startswith("#") and pending is not None:
            width, _, height = pending.get("RESOLUTION", "0x0").partition("x")
            variants.append(
                Variant(
                    line,
                    int(pending.get("BANDWIDTH", 0)),
                    int(width or 0),
                    int(height or 0),
                    pending.get("CODECS", ""),
                )
            )
            pending = None
    if not variants:
        raise ValueError("the master playlist lists no variant")
    return variants


def segments(text: str) -> list[tuple[str, float]]:
    """``[(uri, duration seconds)]`` of a media playlist, in order.

    Raises
    ------
    ValueError
        Not an HLS playlist.
    """
    lines = [line.strip() for line in text.splitlines()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an HLS playlist")
    found: list[tuple[str, float]] = []
    duration: float | None = None
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            found.append((line, duration))
            duration = None
    return found


def rewrite(text: str, resolve: Callable[[str], str]) -> str:
    """Replace every URI in a playlist with ``resolve(uri)``.

    URIs are the non-tag lines (variant playlists, segments) and the ``URI="..."`` attributes of
    tags (``EXT-X-MAP``, ``EXT-X-MEDIA``, ``EXT-X-KEY``, ``EXT-X-I-FRAME-STREAM-INF``). Everything
    else is kept byte for byte.

    Examples
    --------
    >>> rewrite("#EXTM3U\\n#EXTINF:4.0,\\nsegment_000.ts\\n", lambda uri: "https://cdn/" + uri)
    '#EXTM3U\\n#EXTINF:4.0,\\nhttps://cdn/segment_000.ts\\n'
    """
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        stripped = body.strip()
        if not stripped:
            out.append(line)
        elif stripped.startswith("#"):
            out.append(_URI_ATTRIBUTE.sub(lambda m: f'URI="{resolve(m.group(1))}"', body) + ending)
        else:
            out.append(resolve(stripped) + ending)
    return "".join(out)

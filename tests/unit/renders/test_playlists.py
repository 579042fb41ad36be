"""HLS playlist reading and rewriting (what playback presigns)."""

from __future__ import annotations

import pytest

from keyframe.renders import playlists
from keyframe.renders.playback import resolve_key

MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-STREAM-INF:BANDWIDTH=3005493,AVERAGE-BANDWIDTH=3005493,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"
720p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=1536586,RESOLUTION=854x480,CODECS="avc1.64001e,mp4a.40.2"
480p/index.m3u8
"""

MEDIA = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.000000,
segment_000.ts
#EXTINF:2.500000,
segment_001.ts
#EXT-X-ENDLIST
"""


def test_the_master_lists_its_variants() -> None:
    variants = playlists.parse_master(MASTER)
    assert [(v.uri, v.width, v.height, v.bandwidth) for v in variants] == [
        ("720p/index.m3u8", 1280, 720, 3005493),
        ("480p/index.m3u8", 854, 480, 1536586),
    ]
    assert variants[0].codecs == "avc1.64001f,mp4a.40.2"


def test_segment_durations_are_read() -> None:
    assert playlists.segments(MEDIA) == [("segment_000.ts", 4.0), ("segment_001.ts", 2.5)]


def test_every_uri_is_rewritten_and_nothing_else_changes() -> None:
    rewritten = playlists.rewrite(MEDIA, lambda uri: f"https://s3/{uri}?sig=1")
    assert "https://s3/segment_000.ts?sig=1\n" in rewritten
    assert 'URI="https://s3/init.mp4?sig=1"' in rewritten
    assert rewritten.replace("https://s3/", "").replace("?sig=1", "") == MEDIA


def test_blank_lines_and_tags_survive_a_master_rewrite() -> None:
    rewritten = playlists.rewrite(MASTER, str.upper)
    assert rewritten.splitlines()[3] == "720P/INDEX.M3U8"
    assert rewritten.splitlines()[4] == ""
    assert rewritten.splitlines()[2].startswith("#EXT-X-STREAM-INF:BANDWIDTH=3005493")


@pytest.mark.parametrize("text", ["", "segment.ts\n", "#EXTM3U\n#EXT-X-VERSION:6\n"])
def test_not_a_master_playlist(text: str) -> None:
    with pytest.raises(ValueError):
        playlists.parse_master(text)


def test_relative_uris_resolve_inside_the_render_folder_only() -> None:
    root = "studios/s/renders/r/attempt-1/"
    assert resolve_key(root + "720p/index.m3u8", "segment_000.ts", root) == root + "720p/segment_000.ts"
    for bad in ("../../../other/secret.ts", "/etc/passwd", "https://evil.example/x.ts"):
        with pytest.raises(ValueError):
            resolve_key(root + "720p/index.m3u8", bad, root)

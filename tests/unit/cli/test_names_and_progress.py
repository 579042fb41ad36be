"""Names an artist types (``SQ010_SH020@3``, a project code), progress arithmetic, and the one rule
that keeps the CLI a client: it imports nothing of the server but the pure file detector."""

from __future__ import annotations

import ast
import io
from pathlib import Path
from typing import Any

import pytest

import keyframe.cli
from keyframe.cli.exits import Usage
from keyframe.cli.progress import Transfer, bar, say
from keyframe.cli.render_commands import RenderWatch, _outputs_line, _report
from keyframe.cli.resolve import AssetRef, find_asset, find_project, parse_ref, version_of

SH020 = {"id": "0b6f3c1e-2d4a-4e8b-9c7d-1a2b3c4d5e6f", "name": "SQ010_SH020", "projectId": "p1"}
SH020_B = {"id": "1b6f3c1e-2d4a-4e8b-9c7d-1a2b3c4d5e6f", "name": "sq010_sh020", "projectId": "p2"}
SH0201 = {"id": "2b6f3c1e-2d4a-4e8b-9c7d-1a2b3c4d5e6f", "name": "SQ010_SH0201", "projectId": "p1"}


class _Listing:
    """``GET /assets?q=`` as the API answers it: a case-insensitive name prefix, by name."""

    def __init__(self, *assets: dict[str, Any]) -> None:
        self.assets = assets
        self.asked: list[dict[str, Any]] = []

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        if path == "/projects":
            return {"items": [{"id": "p1", "code": "NM", "name": "Night Market"}], "nextCursor": None}
        assert path == "/assets" and params is not None
        self.asked.append(params)
        found = [a for a in self.assets if a["name"].casefold().startswith(params["q"].casefold())]
        found = [a for a in found if params.get("projectId") in (None, a["projectId"])]
        return {"items": sorted(found, key=lambda a: a["name"].casefold()), "nextCursor": None}


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("SQ010_SH020", AssetRef("SQ010_SH020")),
        ("SQ010_SH020@3", AssetRef("SQ010_SH020", 3)),
        ("SQ010_SH020@v12", AssetRef("SQ010_SH020", 12)),
        ("ada@night", AssetRef("ada@night")),  # an @ not followed by a number is part of the name
    ],
)
def test_asset_references_split_at_the_version(text: str, ref: AssetRef) -> None:
    assert parse_ref(text) == ref


def test_version_0_is_a_usage_error() -> None:
    with pytest.raises(Usage):
        parse_ref("SQ010_SH020@0")


def test_a_name_is_found_through_the_listings_search_and_must_match_whole() -> None:
    listing = _Listing(SH020, SH0201)
    assert find_asset(listing, "sq010_sh020") == SH020  # type: ignore[arg-type]
    assert listing.asked == [{"q": "sq010_sh020", "sort": "name", "limit": 100}]


def test_no_match_names_the_near_ones_and_two_matches_ask_for_the_project() -> None:
    with pytest.raises(Usage, match=r"no asset named 'SQ010_SH02'.*SQ010_SH020, SQ010_SH0201"):
        find_asset(_Listing(SH020, SH0201), "SQ010_SH02")  # type: ignore[arg-type]
    with pytest.raises(Usage, match=r"2 assets are named 'SQ010_SH020'.*--project"):
        find_asset(_Listing(SH020, SH020_B), "SQ010_SH020")  # type: ignore[arg-type]
    assert find_asset(_Listing(SH020, SH020_B), "SQ010_SH020", project_id="p2") == SH020_B  # type: ignore[arg-type]


def test_projects_are_found_by_code_or_name_in_any_case() -> None:
    assert find_project(_Listing(), "nm")["id"] == "p1"  # type: ignore[arg-type]
    assert find_project(_Listing(), "night market")["id"] == "p1"  # type: ignore[arg-type]
    with pytest.raises(Usage):
        find_project(_Listing(), "XX")  # type: ignore[arg-type]


def test_without_a_version_the_current_one_is_meant_then_the_latest() -> None:
    assert version_of({"currentVersion": 2, "latestVersion": 3}, None) == 2
    assert version_of({"currentVersion": None, "latestVersion": 3}, None) == 3
    assert version_of({"currentVersion": 2}, 1) == 1
    with pytest.raises(Usage, match="no version yet"):
        version_of({"name": "SQ010", "currentVersion": None, "latestVersion": 0}, None)


def test_a_resumed_transfer_counts_only_what_this_run_moved() -> None:
    now = [100.0]
    shown: list[int] = []
    transfer = Transfer(30 * 2**20, already=20 * 2**20, on_bytes=shown.append, clock=lambda: now[0])
    transfer.update(10 * 2**20)
    now[0] += 2.0
    transfer.finish()
    now[0] += 50.0  # time after the end does not count
    assert transfer.rate == 5 * 2**20 and shown == [10 * 2**20]
    assert transfer.summary("sent", "sh020.mov") == (
        "sent sh020.mov: 10.0 MiB in 2.0 s (5.0 MiB/s); 20.0 MiB of 30.0 MiB were already there (resumed)"
    )


def test_a_resumed_bar_starts_at_the_bytes_held_and_status_lines_go_above_it() -> None:
    screen = io.StringIO()
    with bar(100, description="sh020.mov", initial=60, file=screen) as progress:
        say("Resuming upload u1: parts 4 of 4 left", file=screen)
        progress.update(40)
    lines = screen.getvalue().split("\n")
    # the first frame shows 60 of 100 and no rate yet (nothing moved in this run)
    assert " 60%|" in lines[0].split("\r")[1] and "?B/s" in lines[0]
    # the status line is whole once the terminal has drawn the carriage returns
    status = [line.split("\r")[-1] for line in lines if "Resuming" in line]
    assert status == ["Resuming upload u1: parts 4 of 4 left"]


@pytest.mark.parametrize(
    ("status", "code"), [("SUCCEEDED", 0), ("FAILED", 1), ("CANCELLED", 1), ("RUNNING", 1)]
)
def test_a_watched_render_exits_0_only_when_it_succeeded(
    status: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _report({"renderJobId": "r1", "status": status}, 1.0, as_json=False, quiet=True) == code
    assert capsys.readouterr().out.strip() == f"render r1 {status}"


ALLOWED_OUTSIDE_CLI = {"keyframe.media.detect", "keyframe.media.errors"}


def test_the_cli_imports_nothing_of_the_server_but_the_pure_detector() -> None:
    folder = Path(keyframe.cli.__file__).parent
    reached: dict[str, str] = {}
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("keyframe") and not name.startswith("keyframe.cli"):
                    reached[name] = path.name
    assert set(reached) <= ALLOWED_OUTSIDE_CLI, reached


def test_without_a_socket_a_watched_render_is_polled_to_its_end(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    answers = iter(
        [{"renderJobId": "r1", "status": s, "progress": p} for s, p in (("RUNNING", 40), ("SUCCEEDED", 100))]
    )

    class _Client:
        def post(self, path: str, body: Any = None) -> Any:
            return {"url": "ws://127.0.0.1:9/live?ticket=t"}

        def get(self, path: str, params: Any = None) -> Any:
            assert path == "/renders/r1"
            return next(answers)

    def refuse(self: Any) -> Any:
        raise OSError("connection refused")

    monkeypatch.setattr("keyframe.cli.live.LiveSocket.open", refuse)
    monkeypatch.setattr("keyframe.cli.render_commands.POLL_SECONDS", 0.0)
    watch = RenderWatch(_Client(), "a1", shown=True)  # type: ignore[arg-type]
    watch.open()
    ended = watch.follow({"renderJobId": "r1", "status": "QUEUED", "preset": "hls"}, timeout=30)
    watch.close()
    assert ended["status"] == "SUCCEEDED"
    err = capsys.readouterr().err
    assert "polling the render job instead" in err
    assert [line for line in _visible(err) if line.startswith("render r1")] == [
        "render r1 QUEUED",
        "render r1 RUNNING",
        "render r1 SUCCEEDED",
    ]


def _visible(stderr: str) -> list[str]:
    return [line.split("\r")[-1].rstrip() for line in stderr.split("\n") if line.split("\r")[-1].strip()]


def test_a_finished_render_is_summed_up_in_the_words_of_its_preset() -> None:
    hls = {"renditions": [{"height": 720}, {"height": 480}], "fileCount": 5, "totalBytes": 1677722}
    assert _outputs_line({"preset": "hls", "outputs": hls}) == "ladder 720p, 480p, 5 files, 1.6 MiB"
    mp4 = {"renditions": [{"height": 720}], "fileCount": 1, "totalBytes": 1153434}
    assert _outputs_line({"preset": "review-mp4", "outputs": mp4}) == "720p, 1 file, 1.1 MiB"

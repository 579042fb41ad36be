"""File-name rules: one safe file name, 255 bytes at most; separators and controls refused (400)."""

from __future__ import annotations

import pytest

from keyframe.errors import InvalidInput
from keyframe.uploads.filenames import validate_file_name


@pytest.mark.parametrize(
    "name",
    [
        "shot_010_v3.mov",
        "Hero rig (final).blend",
        "café.mp4",
        "动画.mp4",
        "...",
        "shot..v2.mov",
        "a" * 255,
        "é" * 127,
    ],
)
def test_ordinary_names_are_kept_as_typed(name: str) -> None:
    # Given an ordinary name / Then it is accepted unchanged
    assert validate_file_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("a" * 256, "too_long"),
        ("é" * 128, "too_long"),
        (".", "dot_segment"),
        ("..", "dot_segment"),
        ("../../etc/passwd", "path_separator"),
        ("renders/final.mov", "path_separator"),
        ("C:\\renders\\final.mov", "path_separator"),
        ("final\n.mov", "control_character"),
        ("final\x00.mov", "control_character"),
        ("final\x7f.mov", "control_character"),
        ("final\x85.mov", "control_character"),
        ("evil\u202egpj.exe", "bidi_control"),
    ],
)
def test_unsafe_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    # Given an unsafe name / When validated / Then a 400 names the rule it breaks
    with pytest.raises(InvalidInput) as caught:
        validate_file_name(name)
    assert caught.value.code == "INVALID_FILE_NAME"
    assert caught.value.details["reason"] == reason
    assert [d["field"] for d in caught.value.details["fields"]] == ["fileName"]

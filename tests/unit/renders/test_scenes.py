"""Scene presets: options, ranges, chunking, probes and renderer command lines (pure)."""

from __future__ import annotations

import gzip

import pytest
from pydantic import ValidationError

from keyframe.errors import InvalidInput
from keyframe.renders import scene_renderers, scenes
from keyframe.renders.schemas import RenderRequest

SIF = (
    b'<?xml version="1.0"?><canvas version="1.2" width="640" height="360" fps="12" begin-time="1s" '
    b'end-time="2s 6f"><layer type="import"><param name="filename"><string>plates/bg.png</string></param>'
    b'</layer><layer type="sound"><param name="filename"><string>//audio/line.wav</string></param></layer>'
    b"</canvas>"
)


def test_a_scene_request_takes_scene_options_and_refuses_video_ones() -> None:
    # Given / When
    request = RenderRequest.model_validate(
        {"preset": "scene-review", "options": {"frameStart": 1, "chunkSize": 5}}
    )
    # Then
    assert request.scene_options.frame_start == 1 and request.scene_options.chunk_size == 5
    assert RenderRequest.model_validate({"preset": "scene-frames"}).scene_options == scenes.SceneOptions()
    with pytest.raises(ValidationError):
        RenderRequest.model_validate({"preset": "scene-frames", "options": {"watermark": True}})
    with pytest.raises(ValidationError):
        RenderRequest.model_validate({"preset": "hls", "options": {"chunkSize": 2}})


@pytest.mark.parametrize(
    "options",
    [{"frameStart": 10, "frameEnd": 5}, {"chunkSize": 0}, {"resolutionPercent": 0}, {"samples": 8}],
)
def test_bad_scene_options_are_refused(options: dict) -> None:
    with pytest.raises(ValidationError):
        scenes.SceneOptions.model_validate(options)


def test_a_million_frames_or_too_many_chunks_are_refused_before_queueing() -> None:
    with pytest.raises(InvalidInput) as frames:
        scenes.check_options("blender", scenes.SceneOptions(frame_start=0, frame_end=999_999))
    assert frames.value.code == "TOO_MANY_FRAMES"
    with pytest.raises(InvalidInput) as chunks:
        scenes.check_options("blender", scenes.SceneOptions(frame_start=0, frame_end=20_000, chunk_size=1))
    assert chunks.value.code == "TOO_MANY_CHUNKS"
    with pytest.raises(InvalidInput) as synfig:
        scenes.check_options("synfig", scenes.SceneOptions(engine=scenes.Engine.CYCLES))
    assert synfig.value.code == "UNSUPPORTED_OPTION"


def test_only_identified_scene_files_render_as_scenes() -> None:
    assert scenes.renderer_for({"kind": "scene", "format": "blend"}) == "blender"
    assert scenes.renderer_for({"kind": "scene", "format": "sifz"}) == "synfig"
    for media in ({"kind": "scene", "format": "fbx"}, {"kind": "video", "format": "mp4"}, None):
        with pytest.raises(InvalidInput) as refused:
            scenes.renderer_for(media)
        assert refused.value.code == "SOURCE_NOT_SCENE"


def test_chunks_cover_every_frame_once_and_the_default_size_bounds_the_children() -> None:
    chunks = scenes.split(1, 10, 1, 4)
    assert [(c.index, c.start, c.end) for c in chunks] == [(0, 1, 4), (1, 5, 8), (2, 9, 10)]
    assert [f for c in scenes.split(3, 40, 3, 5) for f in c.frames] == list(range(3, 41, 3))
    assert scenes.default_chunk_size(100, "WORKBENCH") == 360  # 180 s at 0.5 s a frame: one chunk
    assert scenes.default_chunk_size(5_000_000, "CYCLES") == 500  # never above 10,000 children


def test_settings_come_from_the_scene_unless_the_request_says_otherwise() -> None:
    facts = scenes.SceneFacts(frame_start=1, frame_end=48, fps=24, width=1920, height=1080, cameras=("Cam",))
    settings = scenes.resolve_settings(
        "blender", facts, scenes.SceneOptions(frame_end=12, chunk_size=4, resolution_percent=25)
    )
    assert (settings.frame_start, settings.frame_end, settings.frames, len(settings.chunks())) == (
        1,
        12,
        12,
        3,
    )
    assert (settings.width, settings.height, settings.engine) == (480, 270, "WORKBENCH")
    assert scenes.SceneSettings.from_json(settings.to_json()) == settings
    with pytest.raises(InvalidInput) as camera:
        scenes.resolve_settings("blender", facts, scenes.SceneOptions(camera="Other"))
    assert camera.value.code == "UNKNOWN_CAMERA"


def test_a_synfig_canvas_gives_its_range_fps_size_and_references() -> None:
    for data in (SIF, gzip.compress(SIF)):
        facts = scene_renderers.parse_sif(data)
        assert (facts.frame_start, facts.frame_end, facts.fps, facts.width, facts.height) == (
            12,
            30,
            12,
            640,
            360,
        )
        assert facts.references == ("audio/line.wav", "plates/bg.png")
    with pytest.raises(ValueError, match="canvas"):
        scene_renderers.parse_sif(b"<svg/>")


def test_blender_probe_output_is_parsed_and_its_relative_paths_cleaned() -> None:
    output = (
        'noise\nKEYFRAME_PROBE {"frameStart": 1, "frameEnd": 250, "fps": 23.976, "width": 1920, '
        '"height": 1080, "cameras": ["Camera"], "references": ["//textures/wood.png"]}\nBlender quit\n'
    )
    facts = scene_renderers.parse_blender_probe(output)
    assert (facts.frame_end, facts.references, facts.cameras) == (250, ("textures/wood.png",), ("Camera",))
    with pytest.raises(ValueError):
        scene_renderers.parse_blender_probe("Error: cannot read file\nBlender quit\n")


def test_dependencies_go_where_the_scene_references_them_else_beside_it() -> None:
    placed = scene_renderers.place_dependencies(
        ["textures/wood.png", "/abs/rig.blend", "../outside/x.png"],
        {"a-wood": "wood.png", "a-rig": "rig.blend", "a-x": "x.png"},
    )
    assert placed == {"a-wood": "textures/wood.png", "a-rig": "rig.blend", "a-x": "x.png"}


def test_renderer_commands_name_frames_by_number_and_render_only_the_range() -> None:
    settings = scenes.SceneSettings("blender", 1, 12, 2, 4, 24.0, 960, 540, 50, "CYCLES", 16, "Cam", "EXR")
    args = scene_renderers.blender_command("blender", "/w/scene.blend", settings, "/w/out", start=5, end=11)
    assert args[:4] == ["blender", "-b", "--factory-startup", "/w/scene.blend"]
    assert args[args.index("-E") + 1] == "CYCLES" and args[args.index("-F") + 1] == "OPEN_EXR"
    assert args[-7:] == ["-s", "5", "-e", "11", "-j", "2", "-a"]
    assert args[args.index("-o") + 1] == "/w/out/frame_######"
    script = args[args.index("--python-expr") + 1]
    assert "resolution_percentage = 50" in script and "samples = 16" in script and "'Cam'" in script
    synfig = scenes.SceneSettings("synfig", 0, 8, 1, 3, 24.0, 160, 120, 50, None, None, None, "PNG")
    cmd = scene_renderers.synfig_command("synfig", "/w/s.sif", synfig, "/w/out/frame.png", start=3, end=5)
    assert cmd[cmd.index("--begin-time") + 1 :][:3] == ["3f", "--end-time", "5f"]
    assert scene_renderers.synfig_output_frame("frame.0004.png", None) == 4
    assert scene_renderers.synfig_output_frame("frame.png", 7) == 7
    assert scenes.frame_name(42) == "frame_000042.png" and scenes.frame_name(3, "EXR") == "frame_000003.exr"

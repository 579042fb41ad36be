"""Render jobs: HLS ladders, review copies and filmstrips made from an exact asset version on AWS Batch.

- :mod:`keyframe.renders.presets`: the one declaration of every preset, its options and the FFmpeg
  arguments it runs (pure, unit-tested);
- trim timecodes (non-drop and drop-frame) are parsed by :mod:`keyframe.timecode`;
- :mod:`keyframe.renders.progress`: FFmpeg ``-progress`` parsing, the 2 s throttle, ETA;
- :mod:`keyframe.renders.playlists` / :mod:`keyframe.renders.playback`: HLS playlist rewriting and
  private playback through presigned URLs;
- :mod:`keyframe.renders.models` / :mod:`keyframe.renders.service`: the render job record (the
  truth) and the only write path, with conditional status transitions and the per-studio slots;
  :mod:`keyframe.renders.requests` makes the API's requests through it and
  :mod:`keyframe.renders.worker_writes` takes the render container's writes;
- :mod:`keyframe.renders.execution`: the boundary to Step Functions and Batch;
- :mod:`keyframe.renders.worker`: the container entrypoint ``python -m keyframe.renders.worker``;
- :mod:`keyframe.renders.tasks`: the Step Functions task Lambdas (finalize, mark failed);
- :mod:`keyframe.renders.routes`: the REST API.
"""

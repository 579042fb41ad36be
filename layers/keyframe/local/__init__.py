"""The offline stack behind ``make dev``: an AWS emulator on moto, API Gateway REST and WebSocket
emulation that run the real handlers in-process, Lambda Invoke and Batch answered locally.

Modules: :mod:`~keyframe.local.stack` (start/stop everything), :mod:`~keyframe.local.emulator`
(moto + Lambda Invoke + Batch jobs), :mod:`~keyframe.local.batch` (job definitions),
:mod:`~keyframe.local.batch_queue` / :mod:`~keyframe.local.batch_runner` /
:mod:`~keyframe.local.batch_jobs` (the Batch job queue, the process runner, the job record),
:mod:`~keyframe.local.bootstrap` (resources and state machine placeholders),
:mod:`~keyframe.local.apigateway` / :mod:`~keyframe.local.restapi` (REST API),
:mod:`~keyframe.local.websocket` (WebSocket API and ``@connections``), :mod:`~keyframe.local.lambdas`
(handlers in-process), :mod:`~keyframe.local.ffmpeg` (which ffmpeg to run).
"""

from keyframe.local.ffmpeg import ffmpeg_path, ffprobe_path

__all__ = ["ffmpeg_path", "ffprobe_path"]

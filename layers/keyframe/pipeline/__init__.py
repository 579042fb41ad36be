"""The asset pipeline: what happens after an upload completes.

A Step Functions Standard workflow (``statemachines/asset_pipeline.asl.json``) runs, per upload:

1. **Validate** (Lambda): the real type from the bytes, truncation, the client's SHA-256;
2. **Publish** (Lambda): the upload becomes version N of the asset (status PROCESSING);
3. **Derive** (only for video/image/audio): probe metadata, make the thumbnail, review proxy or
   waveform with FFmpeg; up to 1 GiB in the ``pipeline-derive`` Lambda function, which runs Publish
   itself while FFmpeg works (one Lambda hop fewer, FFmpeg not waiting for it), else on AWS Batch
   (the media container) after the Publish task;
4. **Finalize** (Lambda): the version becomes READY and current;

and any failure goes to **MarkFailed** (Lambda): pipeline FAILED with a code and a human message, a
published version FAILED (never deleted), the uploaded original kept.

Modules: :mod:`~keyframe.pipeline.starter` (``start_pipeline``, reprocess),
:mod:`~keyframe.pipeline.tasks` (the Lambda task bodies), :mod:`~keyframe.pipeline.derive_step` (the
Batch worker's bookkeeping), :mod:`~keyframe.pipeline.service` (the pipeline record: the only write
path, emits ``pipeline:update``), :mod:`~keyframe.pipeline.status` (reads), :mod:`~keyframe.pipeline.routes`.
"""

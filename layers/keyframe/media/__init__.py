"""Media: what a file really is and what FFmpeg makes of it.

Shared by the asset pipeline (its Validate Lambda and its Batch worker) and the render container:

- :mod:`keyframe.media.detect`: the real type of a file from its first bytes (magic numbers), never
  from its name or declared content type; the ISO BMFF box walk that finds truncated MP4/MOV files
  (the entry point of the pure detector, whose jobs are :mod:`~keyframe.media.signatures`,
  :mod:`~keyframe.media.text_formats`, :mod:`~keyframe.media.structure` and
  :mod:`~keyframe.media.claims`, on the types of :mod:`~keyframe.media.detected`);
- :mod:`keyframe.media.ffmpeg`: where FFmpeg is, and the argument lists for thumbnails, review proxies
  and waveforms;
- :mod:`keyframe.media.probe`: duration, frames, size, codecs and timecode of a source (ffprobe or PyAV);
- :mod:`keyframe.media.derive`: probe + derivatives for one version, streamed from and to S3;
- :mod:`keyframe.media.worker`: the container entrypoint ``python -m keyframe.media.worker``.
"""

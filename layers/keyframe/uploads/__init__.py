"""Large-file uploads: presigned S3 multipart sessions that become asset versions.

A client opens a session (``POST /assets/{assetId}/uploads``), PUTs each upload part straight to
the media bucket with presigned SigV4 URLs (no file byte passes through Lambda), resumes from
``GET …/uploads/{uploadId}`` after a crash, and completes: the API checks the parts against S3's
own list, completes the multipart upload and starts exactly one pipeline execution.

Modules: :mod:`.sizing` (part plan), :mod:`.filenames`, :mod:`.config`,
:mod:`.models` (sessions; the storage quota is :mod:`keyframe.usage.quotas`), :mod:`.multipart`
(the S3 adapter), :mod:`.service`, :mod:`.schemas`, :mod:`.routes`.
"""

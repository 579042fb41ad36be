"""Keyframe: the production backend of an animation studio.

The package is the shared domain code that every Lambda handler in ``functions/`` imports. It is
packaged as a Lambda layer by ``infra/layer.py`` and installed in editable mode for tests and the
local stack. Each feature lives in a sub-package named after it:

- ``keyframe.identity``  studios, users, members, roles, tokens (the tenants table)
- ``keyframe.catalog``   projects, assets, versions, dependencies, activity (the catalog table)
- ``keyframe.uploads``   presigned multipart uploads (the uploads table, the media bucket)
- ``keyframe.pipeline``  the asset pipeline's Step Functions tasks
- ``keyframe.media``     FFmpeg work shared by the pipeline and the render container
- ``keyframe.renders``   render jobs, presets, playback (the renders table)
- ``keyframe.reviews``   comments and approvals
- ``keyframe.live``      WebSocket connections, rooms, fan-out (the live table)
- ``keyframe.events``    the one publisher of domain events
- ``keyframe.http``      the REST resolver, error mapping, auth context, OpenAPI
- ``keyframe.storage``   table schemas (one source for CDK, PynamoDB and the local stack)
- ``keyframe.local``     the offline stack started by ``make dev``
- ``keyframe.cli``       the ``keyframe`` command (upload for artists, dev server)
"""

"""Reviews: timecoded comments (threaded, with annotations) and review decisions on versions.

Both the REST routes (:mod:`~keyframe.reviews.routes`) and the WebSocket actions
(:mod:`keyframe.live.socket_messages`) call :mod:`~keyframe.reviews.service`, the only write path, which
fans out through :func:`keyframe.events.publisher.emit`.
"""

"""Domain events: one publisher for every producer (API, pipeline, render container).

Use :func:`keyframe.events.publisher.emit`.
"""

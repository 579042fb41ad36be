"""Analytics events: what members do in a review UI and what the backend did, recorded for analysts.

- :mod:`keyframe.analytics.schemas`: the client events ``POST /analytics/events`` accepts (the
  documented enum :class:`~keyframe.analytics.schemas.ClientEventType`) and the batch shape.
- :mod:`keyframe.analytics.records`: the one record shape every event is stored as (client events,
  server events derived from the outbox, sign-ins), and which domain events become server records.
- :mod:`keyframe.analytics.sink`: where records go: Kinesis Data Firehose (``ANALYTICS_STREAM_NAME``,
  the cloud) or JSON-lines files partitioned by studio and date (``ANALYTICS_DIRECTORY``, the local
  stack).
- :mod:`keyframe.analytics.limits`: the per-member rate limit of client events.
- :mod:`keyframe.analytics.consumer`: the outbox consumer (``outbox-stream``) recording server events.
- :mod:`keyframe.analytics.routes`: ``POST /analytics/events`` (served by ``reviews-api``).
"""

"""Live review over API Gateway WebSockets.

- :mod:`~keyframe.live.tickets`: single-use 60 s connect tickets (``POST /live/tickets``).
- :mod:`~keyframe.live.sockets`: the ``$connect`` authorizer, ``$connect`` and ``$disconnect``.
- :mod:`~keyframe.live.socket_messages`: the message route (actions ``subscribe``, ``unsubscribe``,
  ``comment``, ``resolve``, ``review``, ``presence``, ``ping``), validated by
  :mod:`~keyframe.live.messages`.
- :mod:`~keyframe.live.connections`: connection and room-membership records.
- :mod:`~keyframe.live.fanout`: ``deliver(studio_id, envelopes)``, called by the one event publisher,
  posts each envelope to the room's connections through the ``@connections`` API.
- :mod:`~keyframe.live.routes`: REST ``POST /live/tickets`` and the catch-up ``GET /rooms/{room}/events``.
"""

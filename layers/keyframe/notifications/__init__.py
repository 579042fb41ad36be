"""Notifications: a per-user inbox and live delivery to every socket of the user.

Modules, by name:

- ``models``: the PynamoDB items (live table): notifications;
- ``schemas``: the REST shapes (``Notification``, pages, the read request);
- ``inbox``: the store: add, list (newest first, signed cursors), mark read, the unread count;
- ``mentions``: ``@name`` in comment text resolved to members of the studio;
- ``service``: :func:`~keyframe.notifications.service.notify`, the one entry point producers call
  (reviews, the pipeline, renders): never the actor, only members of the studio, then the inbox and
  the ``user:{userId}`` room;
- ``routes``: ``/me/notifications``, ``/me/notifications/read``.

A notification belongs to one member of one studio: it is read with a token of that studio.
"""

"""Notifications: a per-user inbox, live delivery to the user's sockets, preferences and e-mail.

Modules, by name:

- ``models``: the PynamoDB items (live table): notifications and preferences;
- ``schemas``: the REST shapes (``Notification``, pages, the read request, preferences);
- ``inbox``: the store: add, list (newest first, signed cursors), mark read, the unread count;
- ``preferences``: delivery per type (inbox, e-mail at once, daily digest), the signed unsubscribe token;
- ``emails``: the immediate e-mail, the digest queue and :func:`~keyframe.notifications.emails.send_digests`;
- ``mentions``: ``@name`` in comment text resolved to members of the studio;
- ``service``: :func:`~keyframe.notifications.service.notify`, the one entry point producers call
  (reviews, the pipeline, renders): never the actor, only members of the studio, then inbox, the
  ``user:{userId}`` room and, by preference, e-mail;
- ``routes``: ``/me/notifications``, ``/me/notifications/read``, ``/me/notification-preferences``,
  ``/notifications/unsubscribe`` (public).

A notification belongs to one member of one studio: it is read with a token of that studio.
"""

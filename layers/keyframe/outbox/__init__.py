"""The transactional outbox: every domain event stored durably with the change it describes.

- :mod:`keyframe.outbox.records`: the event (:class:`~keyframe.outbox.records.DomainEvent`, its
  envelope ``{id, type, studio, occurredAt, subject, data}``) and its outbox item in the catalog
  table, added to the change's own transaction (:func:`~keyframe.outbox.records.add_to`) or written
  alone (:func:`~keyframe.outbox.records.write`).
- :mod:`keyframe.outbox.stream`: the consumer of the catalog table's stream. Each outbox INSERT is
  handed to the registered consumers (rooms, webhooks, analytics), at least once, in the order the
  studio's events were written; a consumer that fails makes the record a batch item failure, and
  the stream hands it (and the records after it) again.
"""

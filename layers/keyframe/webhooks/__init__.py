"""Outbound webhooks (issue 13.2): a studio's HTTP endpoints receive its domain events, signed.

- :mod:`~keyframe.webhooks.models`: endpoints and deliveries (catalog table).
- :mod:`~keyframe.webhooks.settings`: timeouts, retry schedule, quota, what URLs are allowed.
- :mod:`~keyframe.webhooks.targets`: the SSRF rules (https only, public addresses only in the cloud).
- :mod:`~keyframe.webhooks.signing`: Standard Webhooks headers (the ``standardwebhooks`` library).
- :mod:`~keyframe.webhooks.service`: the ADMIN routes' logic (create, list, update, delete, rotate the
  secret, deliveries, replay, test).
- :mod:`~keyframe.webhooks.dispatch`: the outbox consumer that turns each event into deliveries on the
  queue, and the queue consumer that sends them, retries and disables endpoints failing for 24 h.
- :mod:`~keyframe.webhooks.routes`: ``/studio/webhooks…`` (function ``identity-api``).
"""

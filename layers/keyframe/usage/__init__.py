"""What each studio may use: per-studio quotas, set by configuration, enforced before a change is stored.

Modules: :mod:`.config` (the limits and per-studio overrides), :mod:`.models` (the counter items,
each beside the data it counts), :mod:`.quotas` (the one quota mechanism: a counter reserved and
released inside the caller's own transaction, a pre-check, and refusals whose code names the quota),
:mod:`.figures` (``GET /studio/usage``: the figures of a range of days, with :mod:`.storage_days`
for storage bytes per day and :mod:`.egress` for the estimated playback egress), :mod:`.routes`
(``GET /studio/quotas`` and ``GET /studio/usage``, served by ``renders-api``).
"""

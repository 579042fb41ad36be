"""Each member's own shortcuts: favorite assets and where they stopped playing a render (``/me``).

Modules: :mod:`.models` (the favorites table), :mod:`.schemas` (API shapes), :mod:`.favorites`
(favorite assets, and :func:`~keyframe.favorites.favorites.favoured_by`, the members who favourited
an asset, for notifications), :mod:`.notices` (a new version notifies them), :mod:`.playback`
(resume positions), :mod:`.routes` (served by
``catalog-api``). Everything is keyed by the verified caller's studio and user: a member sees only
their own, and another studio's asset or render answers 404.
"""

"""``keyframe``: the command line of artists and developers (``keyframe upload``, ``keyframe login``).

It talks to Keyframe only through the public HTTP API (``requests``), exactly as any client would.
"""

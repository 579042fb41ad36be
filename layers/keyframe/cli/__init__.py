"""``keyframe``: the command line of artists and developers (see :mod:`keyframe.cli.main`).

It talks to Keyframe only through the public HTTP and WebSocket API (``requests``, ``websockets``),
exactly as any client would; the one piece of Keyframe's own code it shares is the pure file-type
detector :mod:`keyframe.media.detect`, so that ``keyframe upload`` refuses locally what the pipeline
would refuse.
"""

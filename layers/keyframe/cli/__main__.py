"""``python -m keyframe.cli``: the ``keyframe`` command."""

import sys

from keyframe.cli.main import main

sys.exit(main())

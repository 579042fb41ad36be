"""moto's per-request lookup of its action methods, done once per response class.

To answer a request, moto's ``BaseResponse.call_action`` lists the response class's functions with
``inspect.getmembers`` (``moto.core.utils.method_names_from_class``) and checks the action's name
against that list: about 2.7 % of the integration suite's CPU and as much of the local emulator's,
for a list that depends on the class alone. :func:`remember_action_methods` keeps the list per
class. Used by the local stack's emulator (:func:`keyframe.local.emulator.moto_app`) and the test
worlds (``tests/support/aws.py``).
"""

from __future__ import annotations

import functools

from moto.core import responses

_state = {"applied": False}


def remember_action_methods() -> None:
    """Make moto's action lookup read each response class's function names once (idempotent,
    process-wide). Classes are patched before any request (the emulator and the test worlds patch
    ``DynamoHandler`` at start), so a remembered list never misses a method."""
    if _state["applied"]:
        return
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)  # type: ignore[assignment]
    _state["applied"] = True

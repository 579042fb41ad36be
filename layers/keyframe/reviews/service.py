"""Comments and review decisions: the only write path, shared by the REST routes and the socket.

The jobs are split by module: :mod:`~keyframe.reviews.comments` (add, list, edit, resolve) and
:mod:`~keyframe.reviews.decisions` (decide, list), on what they share in
:mod:`~keyframe.reviews.common`; this module is their one entry point.

Every function takes the verified :class:`~keyframe.identity.permissions.Principal` (from the REST
authorizer or from the connection record) and checks the permission itself, so both channels obey
the same rule. Every change stores its event in its own transaction (keyframe.outbox, through
:func:`keyframe.events.publisher.stage` or :func:`keyframe.outbox.records.add_to`), announced after
the commit:

==========================  ======================================  =================================
event                       rooms                                   data
==========================  ======================================  =================================
``asset:commented``         ``asset:{a}``, ``project:{p}``          the comment
``comment:updated``         ``asset:{a}``, ``project:{p}``          the comment (body edited)
``comment:resolved``        ``asset:{a}``, ``project:{p}``          the comment (``resolved: true``)
``comment:reopened``        ``asset:{a}``, ``project:{p}``          the comment (``resolved: false``)
``asset:approved``          ``asset:{a}``, ``project:{p}``,         the decision + ``reviewStatus``
                            ``studio``
``asset:changes-requested`` same                                    same
==========================  ======================================  =================================

Comments and decisions are stored in the live table (see :mod:`keyframe.reviews.models`). A comment
keeps the members its body @mentions (``mentions``, resolved among the studio's members when it is
written or edited). After each change :mod:`keyframe.reviews.notices` notifies the mentioned
members, the author of the comment replied to, and the publisher of a reviewed version.

Activity log: every comment change is written in the *same* DynamoDB transaction as its activity
entry (``comment:added``, ``comment:edited``, ``comment:resolved``, ``comment:reopened``; a
transaction spans the live and catalog tables) through :func:`keyframe.storage.activity.record`, so
neither exists without the other. A decision is one transaction too: the decision record (live
table) goes into :func:`keyframe.catalog.versions.set_review_status` as ``with_items``, which
commits it with the version's ``reviewStatus``, the asset's status and the ``version:reviewed``
activity entry (its details carry the note). Either all of them are stored or none is, so a request
that failed can simply be sent again.
"""

from __future__ import annotations

from keyframe.reviews.comments import add_comment, list_comments, resolve_comment, to_comment, update_comment
from keyframe.reviews.decisions import DECISION_EVENTS, decide, list_reviews, to_review

__all__ = [
    "DECISION_EVENTS",
    "add_comment",
    "decide",
    "list_comments",
    "list_reviews",
    "resolve_comment",
    "to_comment",
    "to_review",
    "update_comment",
]

"""``@name`` mentions in comment text, resolved to members of the studio.

A mention is ``@`` followed by a handle (letters, digits, ``_``, ``.``, ``-``; at most 64), not
preceded by a letter, digit or ``@`` (so ``ana@example.com`` mentions nobody); a trailing ``.`` or
``-`` ends the sentence, not the handle. A handle names the member whose display name, with its
spaces removed, is the handle (case-insensitively: ``@DoraLee`` or ``@doralee`` for "Dora Lee"), or
else the one member whose display name's first word it is (``@Dora``, when no other member's first
word is Dora). Only members of the comment's studio are candidates: a handle that names nobody there
(a non-member, a user of another studio, an ambiguous first name) stays plain text, is not stored
as a mention and notifies nobody. The text itself is never changed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from keyframe.identity.models import (
    MEMBER_PREFIX,
    USER_SK,
    MembershipItem,
    UserItem,
    studio_pk,
    user_pk,
)

HANDLE = re.compile(r"(?<![\w@])@([A-Za-z0-9_][\w.\-]{0,63})")
"""A mention in text; group 1 is the handle (trailing ``.``/``-`` trimmed by :func:`handles`)."""


@dataclass(frozen=True)
class Member:
    """A member who can be mentioned: their id and display name."""

    user_id: str
    display_name: str


def handles(text: str) -> list[str]:
    """The handles written in ``text`` (case kept, duplicates and trailing ``.``/``-`` removed), in order."""
    found = (match.group(1).rstrip(".-") for match in HANDLE.finditer(text))
    return list(dict.fromkeys(h for h in found if h))


def _key(text: str) -> str:
    return "".join(text.split()).casefold()


def studio_members(studio_id: str) -> list[Member]:
    """Every member of ``studio_id`` with their display name (tenants table: one Query of the
    studio's memberships, then BatchGetItem of their users)."""
    memberships = MembershipItem.query(studio_pk(studio_id), MembershipItem.sk.startswith(MEMBER_PREFIX))
    ids = [m.user_id for m in memberships]
    users = UserItem.batch_get([(user_pk(uid), USER_SK) for uid in ids]) if ids else []
    return [Member(u.user_id, u.display_name) for u in users]


def match(written: list[str], members: list[Member]) -> list[Member]:
    """The members the handles ``written`` name (see the module docstring), each once, in text order."""
    by_full: dict[str, Member] = {}
    by_first: dict[str, list[Member]] = defaultdict(list)
    for candidate in members:
        by_full.setdefault(_key(candidate.display_name), candidate)
        words = candidate.display_name.split()
        if words:
            by_first[words[0].casefold()].append(candidate)
    found: dict[str, Member] = {}
    for handle in written:
        key = handle.casefold()
        member: Member | None = by_full.get(key)
        if member is None and len(by_first.get(key, [])) == 1:
            member = by_first[key][0]
        if member is not None:
            found.setdefault(member.user_id, member)
    return list(found.values())


def resolve(studio_id: str, text: str) -> list[Member]:
    """The members of ``studio_id`` that ``text`` mentions (no read at all when it has no ``@``)."""
    written = handles(text)
    if not written:
        return []
    return match(written, studio_members(studio_id))

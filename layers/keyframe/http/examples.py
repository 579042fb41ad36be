"""Examples the OpenAPI document shows for request bodies and the main answers (``make openapi``).

Keyed by component schema name; :mod:`keyframe.http.openapi` puts each one on every request body and
success answer whose schema it is. ``tests/unit/core/test_openapi.py`` validates each example
against its schema and requires one on every request body.
"""

from __future__ import annotations

from typing import Any

_STUDIO = {
    "studioId": "7d1f0c1e-5b8a-4c55-9a77-2f0e6f1f8a10",
    "name": "Night Market",
    "createdAt": "2026-12-04T09:00:00.000000Z",
}
_USER = {
    "userId": "3f1c2d4e-8a9b-4c0d-9e1f-2a3b4c5d6e7f",
    "email": "ada@night-market.studio",
    "displayName": "Ada",
    "createdAt": "2026-12-04T09:00:00.000000Z",
}
_PROJECT_ID = "b0c4e0f2-1d2e-4f5a-8b9c-0d1e2f3a4b5c"
_ASSET_ID = "4ca2115f-9e3b-4d8c-a1f0-6b7c8d9e0f12"

EXAMPLES: dict[str, Any] = {
    # request bodies
    "RegisterRequest": {
        "studioName": "Night Market",
        "email": "ada@night-market.studio",
        "password": "correct horse battery",
        "displayName": "Ada",
    },
    "WebhookCreate": {
        "url": "https://hooks.night-market.studio/keyframe",
        "eventTypes": ["asset:commented", "asset:approved", "render:status"],
        "description": "tracker sync",
    },
    "WebhookUpdate": {"active": True, "eventTypes": []},
    "ClientEventBatch": {
        "events": [
            {
                "id": "0f8e2b1c-4d5a-4e6f-9a0b-1c2d3e4f5a6b",
                "type": "playback.started",
                "occurredAt": "2026-12-05T09:30:00.120Z",
                "renderJobId": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
                "assetId": _ASSET_ID,
                "sessionId": "play-7c1d",
                "positionSeconds": 0,
                "properties": {"rendition": "720p", "muted": False},
            },
            {
                "type": "playback.progress",
                "occurredAt": "2026-12-05T09:30:10.118Z",
                "renderJobId": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
                "sessionId": "play-7c1d",
                "positionSeconds": 10.0,
            },
            {"type": "asset.viewed", "occurredAt": "2026-12-05T09:29:41.002Z", "assetId": _ASSET_ID},
        ]
    },
    "AcceptedEvents": {
        "accepted": 3,
        "ids": [
            "0f8e2b1c-4d5a-4e6f-9a0b-1c2d3e4f5a6b",
            "anl_6b2f0e4c9d8a4b7e8f1a2b3c4d5e6f70",
            "anl_1d2c3b4a5f6e4d7c8b9a0f1e2d3c4b5a",
        ],
    },
    "LoginRequest": {"email": "ada@night-market.studio", "password": "correct horse battery"},
    "RefreshRequest": {"refreshToken": "rt_1.N2QxZjBjMWUtNWI4YS00YzU1"},
    "AcceptInvitationRequest": {
        "token": "inv_Zm9vYmFyYmF6",
        "password": "another long passphrase",
        "displayName": "Dora",
    },
    "InvitationRequest": {"email": "dora@night-market.studio", "role": "DIRECTOR"},
    "RoleChangeRequest": {"role": "PRODUCER"},
    "PasswordChangeRequest": {
        "currentPassword": "correct horse battery",
        "newPassword": "a brand new long passphrase",
    },
    "StudioCreateRequest": {"name": "Night Market Shorts"},
    "TransferRequest": {"userId": "0b6f6d4e-2f1a-4f43-9c59-8c0a1f0e7a11", "newRole": "PRODUCER"},
    "ProfileUpdate": {"displayName": "Ada L."},
    "AvatarRequest": {"uploadId": "3f2a9c0d8e7b4a61b5c4d3e2f1a09b87"},
    "PasswordResetRequest": {"email": "ada@night-market.studio"},
    "PasswordResetConfirmRequest": {
        "token": "rs_Zm9vYmFyYmF6.N2QxZjBjMWUtNWI4YS00YzU1",
        "newPassword": "a brand new long passphrase",
    },
    "ProjectCreate": {"name": "Night Market", "code": "NM", "fps": 24, "startFrame": 1001},
    "ProjectUpdate": {"description": "Season 2, episode 4"},
    "AssetCreate": {"projectId": _PROJECT_ID, "name": "SQ010_SH020", "type": "SHOT", "tags": ["sq010"]},
    "AssetUpdate": {
        "description": "lead character close-up",
        "tags": ["sq010", "hero"],
        "rerenderOnChange": True,
    },
    "RollbackRequest": {"version": 2},
    "DependencyPut": {"pinnedVersion": 3, "note": "uses the v3 rig", "relationship": "RIG_OF"},
    "RenderPolicyCreate": {"assetTypes": ["SHOT"], "presets": ["hls"]},
    "RenderPolicyPatch": {"presets": ["hls", "review-mp4"], "enabled": True},
    "OpenUploadRequest": {
        "fileName": "sh020_v3.mov",
        "contentType": "video/quicktime",
        "size": 13631488,
        "changeNote": "blocking pass",
    },
    "CompleteUploadRequest": {
        "parts": [
            {"partNumber": 1, "etag": '"a54357aff0632cce46d942af68356b38"'},
            {"partNumber": 2, "etag": '"0c78aef83f66abc1fa1e8477f296d394"'},
        ]
    },
    "RenderRequest": {"preset": "hls", "version": 3, "priority": "NORMAL"},
    "CommentCreate": {"body": "Hold the blink two frames longer", "frame": 1013, "timecode": "00:00:00:12"},
    "CommentUpdate": {"resolved": True},
    "ReviewCreate": {"decision": "APPROVED", "note": "Ship it"},
    "MarkRead": {"ids": ["00063a1f2b3c4d5e9f8e7d6c5b4a3921"]},
    "PreferencesUpdate": {"delivery": {"reply": "DIGEST"}, "timeZone": "Europe/Paris"},
    "Unsubscribe": {"token": "eyJzIjoiN2QxZiIsInQiOiJtZW50aW9uIiwidSI6IjNmMWMifQ.c2lnbmF0dXJl"},
    # main answers
    "AuthResponse": {
        "accessToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIzZjFjIn0.c2lnbmF0dXJl",
        "refreshToken": "rt_1.N2QxZjBjMWUtNWI4YS00YzU1",
        "expiresIn": 900,
        "tokenType": "Bearer",
        "user": _USER,
        "studio": _STUDIO,
        "role": "ADMIN",
    },
    "Project": {
        "id": _PROJECT_ID,
        "name": "Night Market",
        "code": "NM",
        "fps": 24,
        "startFrame": 1001,
        "createdBy": _USER["userId"],
        "createdAt": "2026-12-04T09:05:00.000000Z",
        "updatedAt": "2026-12-04T09:05:00.000000Z",
    },
    "Asset": {
        "id": _ASSET_ID,
        "projectId": _PROJECT_ID,
        "name": "SQ010_SH020",
        "type": "SHOT",
        "status": "IN_PROGRESS",
        "tags": ["sq010"],
        "currentVersion": 3,
        "latestVersion": 3,
        "createdBy": _USER["userId"],
        "createdAt": "2026-12-04T09:06:00.000000Z",
        "updatedAt": "2026-12-04T10:12:00.000000Z",
    },
    "RenderJob": {
        "renderJobId": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        "assetId": _ASSET_ID,
        "projectId": _PROJECT_ID,
        "version": 3,
        "preset": "hls",
        "priority": "NORMAL",
        "status": "QUEUED",
        "progress": 0,
        "attempts": 1,
        "frames": {"startFrame": 0, "endFrame": 72},
        "lineage": {
            "assetId": _ASSET_ID,
            "version": 3,
            "key": f"studios/{_STUDIO['studioId']}/assets/{_ASSET_ID}/v3/sh020_v3.mov",
            "sha256Verified": False,
        },
        "options": {},
        "createdBy": _USER["userId"],
        "createdAt": "2026-12-04T10:20:00.000000Z",
        "updatedAt": "2026-12-04T10:20:00.000000Z",
    },
    "OpenUploadResponse": {
        "uploadId": "u-5f4e3d2c1b0a",
        "assetId": _ASSET_ID,
        "status": "OPEN",
        "fileName": "sh020_v3.mov",
        "size": 13631488,
        "partSize": 8388608,
        "partCount": 2,
        "parts": [
            {"partNumber": 1, "url": "https://media.example/studios/…/part1?X-Amz-Signature=…"},
            {"partNumber": 2, "url": "https://media.example/studios/…/part2?X-Amz-Signature=…"},
        ],
        "expiresAt": "2026-12-04T11:20:00Z",
        "sessionExpiresAt": "2026-12-11T10:20:00.000000Z",
    },
    "Comment": {
        "commentId": "c-0a1b2c3d",
        "assetId": _ASSET_ID,
        "version": 3,
        "projectId": _PROJECT_ID,
        "authorId": _USER["userId"],
        "authorName": "Ada",
        "body": "Hold the blink two frames longer",
        "frame": 1013,
        "timecode": "00:00:00:12",
        "threadId": "c-0a1b2c3d",
        "resolved": False,
        "createdAt": "2026-12-04T10:30:00.000000Z",
    },
    "TicketResponse": {
        "ticket": "Ma67OWm6k7LYRYLV-FrivV1Pi6lmrwmRRNvW2T61ahU",
        "url": "ws://127.0.0.1:3001/live?ticket=Ma67OWm6k7LYRYLV-FrivV1Pi6lmrwmRRNvW2T61ahU",
        "expiresAt": "2026-12-04T10:31:00Z",
    },
    "MeResponse": {"user": _USER, "studio": _STUDIO, "role": "ADMIN", "unreadNotifications": 2},
    "NotificationPage": {
        "items": [
            {
                "notificationId": "00063a1f2b3c4d5e9f8e7d6c5b4a3921",
                "type": "mention",
                "title": "Dora mentioned you on SQ010_SH020 v3",
                "body": "@Ada hold the blink two frames longer",
                "actorId": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
                "actorName": "Dora",
                "target": {
                    "projectId": _PROJECT_ID,
                    "assetId": _ASSET_ID,
                    "version": 3,
                    "commentId": "c-0a1b2c3d",
                },
                "createdAt": "2026-12-04T10:30:00.000000Z",
                "read": False,
            }
        ],
        "nextCursor": None,
        "unreadCount": 1,
    },
    "PlaybackPositionPut": {"positionSeconds": 42.5},
    "PlaybackPosition": {
        "renderJobId": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        "positionSeconds": 42.5,
        "updatedAt": "2026-12-04T10:40:00.000000Z",
    },
}
"""Schema name -> one example of it."""

"""The quota counters: one item per studio and quota, each in the table of the data it counts.

=====================  =====================================  ===========  ==========================
quota                  pk                                     sk           table
=====================  =====================================  ===========  ==========================
storage bytes          ``STUDIO#{s}#UPLOAD#USAGE``            ``USAGE``    uploads (``usedBytes``)
concurrent renders     ``STUDIO#{s}#RENDERSLOTS``             ``SLOTS``    renders (``active``)
render vCPUs           ``STUDIO#{s}#RENDERVCPUS``             ``VCPUS``    renders (``used``)
render seconds/month   ``STUDIO#{s}#RENDERSECONDS``           ``{yyyy-mm}``  renders (``used``)
webhook endpoints      ``STUDIO#{s}#QUOTA``                   ``webhookEndpoints``  tenants (``used``)
=====================  =====================================  ===========  ==========================

Beside them, the day figures of ``GET /studio/usage`` (:mod:`keyframe.usage.figures`), sk
``DAY#{yyyy-mm-dd}`` (UTC):

==================  ============================  =======  ==================================
figure              pk                            table    attributes
==================  ============================  =======  ==================================
storage change      ``STUDIO#{s}#UPLOAD#USAGE``   uploads  ``changeBytes``
version links       ``STUDIO#{s}#EGRESS``         catalog  ``bytes``, ``links``
render links        ``STUDIO#{s}#EGRESS``         renders  ``bytes``, ``links``
==================  ============================  =======  ==================================

A counter lives beside what it counts so that the change and the count commit in one transaction
without a new table. Every change is an atomic ``ADD``; an increase is conditional on the limit and a
decrease on the counter holding at least that much (:mod:`keyframe.usage.quotas`), so a counter is
exact under concurrency and never negative.
"""

from __future__ import annotations

from datetime import date

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import CATALOG, RENDERS, TENANTS, UPLOADS

STORAGE_SK = "USAGE"
DAY_PREFIX = "DAY#"
SLOTS_SK = "SLOTS"
VCPUS_SK = "VCPUS"
WEBHOOK_ENDPOINTS_SK = "webhookEndpoints"


def storage_pk(studio_id: str) -> str:
    """``STUDIO#{studioId}#UPLOAD#USAGE`` (uploads table)."""
    return f"STUDIO#{studio_id}#UPLOAD#USAGE"


def day_sk(day: date) -> str:
    """``DAY#{yyyy-mm-dd}`` (a UTC day; sorts as text in day order)."""
    return f"{DAY_PREFIX}{day.isoformat()}"


def egress_pk(studio_id: str) -> str:
    """``STUDIO#{studioId}#EGRESS`` (catalog and renders tables; one item per UTC day)."""
    return f"STUDIO#{studio_id}#EGRESS"


def slots_pk(studio_id: str) -> str:
    """``STUDIO#{studioId}#RENDERSLOTS`` (renders table)."""
    return f"STUDIO#{studio_id}#RENDERSLOTS"


def vcpus_pk(studio_id: str) -> str:
    """``STUDIO#{studioId}#RENDERVCPUS`` (renders table)."""
    return f"STUDIO#{studio_id}#RENDERVCPUS"


def render_seconds_pk(studio_id: str) -> str:
    """``STUDIO#{studioId}#RENDERSECONDS`` (renders table; one item per month)."""
    return f"STUDIO#{studio_id}#RENDERSECONDS"


def quota_pk(studio_id: str) -> str:
    """``STUDIO#{studioId}#QUOTA`` (tenants table)."""
    return f"STUDIO#{studio_id}#QUOTA"


class StorageCounter(Model):
    """Bytes of a studio's completed uploads plus its open sessions' declared sizes (uploads table)."""

    Meta = table_meta(UPLOADS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=STORAGE_SK)
    used = NumberAttribute(default=0, attr_name="usedBytes")
    changes = NumberAttribute(null=True)
    """How many changes the counter has had (``+1`` with each; :mod:`keyframe.usage.storage_days`)."""


class StorageDay(Model):
    """The net change of a studio's storage counter on one UTC day (uploads table, beside the counter):
    the sum of every reservation (+) and release (-) committed that day, in the same transactions."""

    Meta = table_meta(UPLOADS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    change = NumberAttribute(default=0, attr_name="changeBytes")


class RenderSlotsCounter(Model):
    """How many renders of a studio are QUEUED or RUNNING (renders table)."""

    Meta = table_meta(RENDERS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=SLOTS_SK)
    used = NumberAttribute(default=0, attr_name="active")


class RenderVcpusCounter(Model):
    """vCPUs held by a studio's QUEUED or RUNNING renders (renders table): a video render its job
    definition's, a scene render one array child's per chunk (see ``keyframe.renders.vcpus``)."""

    Meta = table_meta(RENDERS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=VCPUS_SK)
    used = NumberAttribute(default=0)


class RenderSecondsCounter(Model):
    """Wall-clock seconds of a studio's finished render attempts in one UTC month (renders table)."""

    Meta = table_meta(RENDERS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    used = NumberAttribute(default=0)


class WebhookEndpointsCounter(Model):
    """How many outbound webhook endpoints a studio has registered (tenants table)."""

    Meta = table_meta(TENANTS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=WEBHOOK_ENDPOINTS_SK)
    used = NumberAttribute(default=0)


class VersionEgressDay(Model):
    """Version download links issued on one UTC day and the bytes they point to (catalog table)."""

    Meta = table_meta(CATALOG)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    bytes = NumberAttribute(default=0)
    links = NumberAttribute(default=0)


class RenderEgressDay(Model):
    """Render playback and download links issued on one UTC day and their bytes (renders table)."""

    Meta = table_meta(RENDERS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    bytes = NumberAttribute(default=0)
    links = NumberAttribute(default=0)


RENDER_VCPUS = 2
"""vCPUs of a (non-scene) render job's Batch definition (``keyframe.renders.jobs.RENDER_JOB``; a test
keeps them equal: usage may not import the renders domain)."""


CHUNK_VCPUS = 2
"""vCPUs of one array child of a scene render (``keyframe.renders.jobs.SCENE_CHUNK_VCPUS``; a test keeps
them equal)."""

CHUNK_PREFIX = "CHUNK#"
"""Sort-key prefix of a scene render's chunk items, beside the job (as ``keyframe.renders.models``)."""


def render_job_pk(studio_id: str, render_job_id: str) -> str:
    """``STUDIO#{studioId}#RENDER#{renderJobId}``: pk of a render job and its chunk items (renders
    table; as ``keyframe.renders.models.job_pk``)."""
    return f"STUDIO#{studio_id}#RENDER#{render_job_id}"


def studio_renders_key(studio_id: str) -> str:
    """``gsi1pk`` of every render job of a studio (renders table; as ``keyframe.renders.models``)."""
    return f"STUDIO#{studio_id}#RENDERS"


class RenderJobView(Model):
    """The fields of a render job the usage figures read (renders table, ``gsi1`` by studio)."""

    Meta = table_meta(RENDERS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1 = gsi(RENDERS, 1)()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    studio_id = UnicodeAttribute(attr_name="studioId")
    preset = UnicodeAttribute()
    scene = JSONAttribute(null=True)
    started_at = UnicodeAttribute(attr_name="startedAt", null=True)
    ended_at = UnicodeAttribute(attr_name="endedAt", null=True)


class RenderChunkView(Model):
    """The fields of a scene render's chunk the usage figures read (renders table, pk of its job, sk
    ``CHUNK#{index:05d}``): when the chunk's latest try started and ended (each try overwrites them)."""

    Meta = table_meta(RENDERS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    started_at = UnicodeAttribute(attr_name="startedAt", null=True)
    ended_at = UnicodeAttribute(attr_name="endedAt", null=True)

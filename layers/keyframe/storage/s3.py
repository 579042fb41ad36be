"""The one place Keyframe builds S3 clients (media bucket: uploads, downloads, derivatives, renders).

Every client signs with SigV4, so presigned URLs work in every region. Callers say only what differs:
path-style addressing on an emulator endpoint, a region and endpoint for presigning multipart
uploads, checksums only when required (browser part uploads), the standard retry mode for the
containers' long transfers.
"""

from __future__ import annotations

from typing import Any

from keyframe.storage import clients


def client(
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    addressing_style: str | None = None,
    request_checksum_calculation: str | None = None,
    retries_mode: str | None = None,
) -> Any:
    """A boto3 S3 client, shared in this process with every caller asking for the same one
    (:func:`keyframe.storage.clients.client`).

    Parameters
    ----------
    region_name, endpoint_url:
        Passed to boto3 (``None``: from the environment).
    addressing_style:
        ``path`` / ``virtual`` / ``auto`` (``None``: boto3's default).
    request_checksum_calculation:
        ``when_required`` to send no default checksum (presigned part PUTs from browsers).
    retries_mode:
        botocore retry mode, e.g. ``standard``.
    """
    options: dict[str, Any] = {"signature_version": "s3v4"}
    if addressing_style:
        options["s3"] = {"addressing_style": addressing_style}
    if request_checksum_calculation:
        options["request_checksum_calculation"] = request_checksum_calculation
    if retries_mode:
        options["retries"] = {"mode": retries_mode}
    return clients.client("s3", region_name=region_name, endpoint_url=endpoint_url, **options)

"""The local stack's snapshot, in-process with moto: object versions, multipart uploads in progress and
items with binary attributes survive a save and a restore into fresh backends, and restored bytes hold
no file descriptor."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from keyframe.local import snapshot_restore, snapshot_save

REGION = "us-east-1"
BUCKET = "keyframe-local-media"
PART = 5 * 1024 * 1024


def _s3() -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def aws() -> Iterator[None]:
    """Fresh moto backends for one stack's life (leaving the context empties them, as a stop does)."""
    with mock_aws():
        yield


def _bucket() -> Any:
    s3 = _s3()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_multipart_upload_in_progress_keeps_its_parts_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, second = os.urandom(PART), os.urandom(PART // 2)
    # Given an upload with its first part sent when the stack stops
    with mock_aws():
        s3 = _bucket()
        upload = s3.create_multipart_upload(
            Bucket=BUCKET, Key="studios/s/shot.mov", ContentType="video/quicktime"
        )
        upload_id = upload["UploadId"]
        sent = s3.upload_part(
            Bucket=BUCKET, Key="studios/s/shot.mov", UploadId=upload_id, PartNumber=1, Body=first
        )
        counts = snapshot_save.save(data, REGION)
        assert (counts["multipartUploads"], counts["parts"]) == (1, 1)

    # When the stack starts again from the snapshot
    with mock_aws():
        s3 = _bucket()
        restored = snapshot_restore.restore(data, REGION)
        assert (restored.multipart_uploads, restored.parts) == (1, 1)
        # Then the upload is open with the same id, and its part is listed with its ETag and size
        uploads = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
        assert [(u["UploadId"], u["Key"]) for u in uploads] == [(upload_id, "studios/s/shot.mov")]
        parts = s3.list_parts(Bucket=BUCKET, Key="studios/s/shot.mov", UploadId=upload_id)["Parts"]
        assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, sent["ETag"], PART)]
        # And only the missing part needs sending to complete it, into the whole file
        last = s3.upload_part(
            Bucket=BUCKET, Key="studios/s/shot.mov", UploadId=upload_id, PartNumber=2, Body=second
        )
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key="studios/s/shot.mov",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": sent["ETag"]}, {"PartNumber": 2, "ETag": last["ETag"]}]
            },
        )
        stored = s3.get_object(Bucket=BUCKET, Key="studios/s/shot.mov")
        assert hashlib.sha256(stored["Body"].read()).digest() == hashlib.sha256(first + second).digest()
        assert stored["ContentType"] == "video/quicktime"
        # And the next snapshot no longer names the finished upload nor keeps its part files
        counts = snapshot_save.save(data, REGION)
        assert (counts["multipartUploads"], counts["parts"]) == (0, 0)
        assert len(list((data / "objects").iterdir())) == 1


def test_restored_versions_are_read_from_their_files_without_holding_one_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bodies = {f"studios/s/thumb-{n:04d}.jpg": os.urandom(64 + n) for n in range(300)}
    with mock_aws():
        s3 = _bucket()
        for key, body in bodies.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        s3.put_object(Bucket=BUCKET, Key="studios/s/thumb-0000.jpg", Body=b"second version")
        snapshot_save.save(data, REGION)

    with mock_aws():
        s3 = _bucket()
        # When 301 versions are restored / Then no file descriptor is held for any of them
        before = _open_fds()
        restored = snapshot_restore.restore(data, REGION)
        assert restored.objects == 301
        assert _open_fds() - before < 10
        # And each reads back whole, in ranges, and with its versions in order
        sample = "studios/s/thumb-0123.jpg"
        assert s3.get_object(Bucket=BUCKET, Key=sample)["Body"].read() == bodies[sample]
        ranged = s3.get_object(Bucket=BUCKET, Key=sample, Range="bytes=10-19")["Body"].read()
        assert ranged == bodies[sample][10:20]
        versions = s3.list_object_versions(Bucket=BUCKET, Prefix="studios/s/thumb-0000.jpg")["Versions"]
        assert [v["IsLatest"] for v in versions] == [True, False]
        assert (
            s3.get_object(Bucket=BUCKET, Key="studios/s/thumb-0000.jpg")["Body"].read() == b"second version"
        )
        old = s3.get_object(Bucket=BUCKET, Key="studios/s/thumb-0000.jpg", VersionId=versions[1]["VersionId"])
        assert old["Body"].read() == bodies["studios/s/thumb-0000.jpg"]
        # And a copy of a restored version is an object of its own
        s3.copy_object(Bucket=BUCKET, Key="studios/s/copy.jpg", CopySource={"Bucket": BUCKET, "Key": sample})
        assert s3.get_object(Bucket=BUCKET, Key="studios/s/copy.jpg")["Body"].read() == bodies[sample]


def test_binary_attributes_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    table = {
        "TableName": "keyframe-local-uploads",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    item = {
        "pk": {"S": "UPLOAD#u1"},
        "partChecksums": {"B": bytes(range(8))},  # an upload session's per-part checksums
        "set": {"BS": [b"\x00\xff", b"\x01"]},
        "nested": {"M": {"crc": {"B": b"\xde\xad"}, "list": {"L": [{"B": b"\xbe\xef"}]}}},
    }
    # Given an item with binary attributes (top level, a set, nested) when the stack stops
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table)
        dynamodb.put_item(TableName=table["TableName"], Item=item)
        counts = snapshot_save.save(data, REGION)
        assert counts["items"] == 1

    # When the stack starts again from the snapshot
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table)
        restored = snapshot_restore.restore(data, REGION)
        assert restored.items == 1
        # Then the item reads back byte for byte
        again = dynamodb.get_item(TableName=table["TableName"], Key={"pk": {"S": "UPLOAD#u1"}})["Item"]
        assert again == item

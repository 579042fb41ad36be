"""The AWS emulator in-process: Lambda Invoke of real/test handlers, Batch jobs as local processes,
Step Functions running lambda:invoke (Retry/Catch) and batch:submitJob.sync against both."""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from moto.core.config import default_user_config

from keyframe import registry
from keyframe.local import batch, batch_jobs, batch_queue, bootstrap
from keyframe.local.emulator import EmulatorApp, EmulatorServer, interpreter_patches, moto_app
from keyframe.local.stack import EndpointSession
from keyframe.storage.tables import TABLES

pytestmark = [pytest.mark.xdist_group("local-emulator")]

ROLE = "arn:aws:iam::123456789012:role/keyframe-it-states"


@dataclass
class Emulator:
    url: str
    session: EndpointSession
    queue_arn: str
    batch: batch_queue.LocalBatch
    app: EmulatorApp

    def client(self, service: str) -> Any:
        return self.session.client(service)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
        for target, name, function in interpreter_patches():
            patch.setattr(target, name, function)
        app = EmulatorApp(moto_app(), stage="it")
        server = EmulatorServer(app, "127.0.0.1", 0)
        patch.setenv("MOTO_PORT", str(server.port))  # the interpreter calls back on localhost:$MOTO_PORT
        session = EndpointSession(server.url, "us-east-1")
        client = session.client("batch")
        app.batch = batch_queue.LocalBatch(
            definitions=batch_jobs.definition_lookup(client),
            queues=batch_jobs.queue_lookup(client),
            environment=lambda: dict(os.environ),
            log_dir=tmp_path_factory.mktemp("batch-logs"),
            cwd=registry.REPO_ROOT,
            kill_grace_seconds=2,
        )
        server.start()
        queue_arn = bootstrap.ensure_batch(session, "it", definitions=[])["JobQueueArn"]
        yield Emulator(server.url, session, queue_arn, app.batch, app)
        app.batch.shutdown(timeout=5)
        server.stop()


def _wait(check: Callable[[], Any], timeout: float = 30, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def _job_definition(emulator: Emulator, name: str, command: list[str], **extra: Any) -> str:
    return emulator.client("batch").register_job_definition(
        jobDefinitionName=name,
        type="container",
        containerProperties={
            "image": "local",
            "command": command,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        },
        **extra,
    )["jobDefinitionArn"]


def _finished(emulator: Emulator, job_id: str) -> dict[str, Any]:
    client = emulator.client("batch")
    return _wait(
        lambda: next(
            (
                j
                for j in client.describe_jobs(jobs=[job_id])["jobs"]
                if j["status"] in ("SUCCEEDED", "FAILED")
            ),
            None,
        )
    )


# ------------------------------------------------------------------------------------ Lambda
def test_lambda_invoke_runs_the_handler_and_reports_errors_like_lambda(
    emulator: Emulator, handlers: dict
) -> None:
    # Given two test-only handlers
    handlers["double"] = lambda event, context: {"frames": event["frames"] * 2}

    def broken(event: dict, context: Any) -> None:
        raise KeyError("assetId")

    handlers["broken"] = broken
    client = emulator.client("lambda")

    # When
    ok = client.invoke(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:keyframe-it-double",
        Payload=json.dumps({"frames": 12}),
    )
    failed = client.invoke(FunctionName="keyframe-it-broken", Payload=b"{}")

    # Then
    assert ok["StatusCode"] == 200 and "FunctionError" not in ok
    assert json.loads(ok["Payload"].read()) == {"frames": 24}
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "KeyError" and error["stackTrace"]


def test_event_invocations_run_in_the_background(emulator: Emulator, handlers: dict) -> None:
    # Given a handler that records its call
    called = threading.Event()
    handlers["notify"] = lambda event, context: called.set()

    # When
    response = emulator.client("lambda").invoke(FunctionName="notify", InvocationType="Event", Payload=b"{}")

    # Then
    assert response["StatusCode"] == 202
    assert called.wait(5)


def test_unknown_functions_are_not_found(emulator: Emulator, handlers: dict) -> None:
    with pytest.raises(ClientError) as missing:
        emulator.client("lambda").invoke(FunctionName="keyframe-it-nope", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


# ------------------------------------------------------------------------------------- Batch
def test_a_job_runs_its_command_with_overrides_and_parameters(emulator: Emulator) -> None:
    # Given a job definition whose command prints a parameter and an environment variable
    definition = _job_definition(
        emulator,
        "it-echo",
        [
            "python",
            "-c",
            "import os; print('frame', 'Ref::frame', os.environ['SHOT'], os.environ['AWS_BATCH_JOB_ID'])",
        ],
        parameters={"frame": "1"},
    )
    client = emulator.client("batch")

    # When submitted with a parameter and an environment override
    job = client.submit_job(
        jobName="echo",
        jobQueue=emulator.queue_arn,
        jobDefinition="it-echo",
        parameters={"frame": "42"},
        containerOverrides={"environment": [{"name": "SHOT", "value": "sh010"}]},
    )
    done = _finished(emulator, job["jobId"])

    # Then
    assert done["status"] == "SUCCEEDED"
    assert done["jobDefinition"] == definition
    assert done["container"]["exitCode"] == 0
    assert len(done["attempts"]) == 1
    assert done["createdAt"] <= done["startedAt"] <= done["stoppedAt"]
    log = Path(done["container"]["logStreamName"]).read_text()
    assert f"frame 42 sh010 {job['jobId']}" in log
    listed = client.list_jobs(jobQueue=emulator.queue_arn, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert job["jobId"] in [j["jobId"] for j in listed]


def test_failed_attempts_are_retried_unless_evaluate_on_exit_says_exit(emulator: Emulator) -> None:
    # Given a command exiting with the code passed as a parameter, 3 attempts, EXIT on code 3
    _job_definition(
        emulator,
        "it-exit",
        ["python", "-c", "import sys; sys.exit(int('Ref::code'))"],
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "3", "action": "EXIT"}]},
    )
    client = emulator.client("batch")

    # When
    retried = client.submit_job(
        jobName="r", jobQueue=emulator.queue_arn, jobDefinition="it-exit", parameters={"code": "2"}
    )
    exited = client.submit_job(
        jobName="e", jobQueue=emulator.queue_arn, jobDefinition="it-exit", parameters={"code": "3"}
    )

    # Then
    retried_done, exited_done = _finished(emulator, retried["jobId"]), _finished(emulator, exited["jobId"])
    assert retried_done["status"] == "FAILED"
    assert [a["container"]["exitCode"] for a in retried_done["attempts"]] == [2, 2, 2]
    assert exited_done["status"] == "FAILED"
    assert len(exited_done["attempts"]) == 1
    assert exited_done["container"]["exitCode"] == 3


def test_attempt_timeout_and_terminate_stop_the_process(emulator: Emulator) -> None:
    # Given a job that would sleep for a minute
    _job_definition(emulator, "it-sleep", ["python", "-c", "import time; time.sleep(60)"])
    client = emulator.client("batch")

    # When one times out after 1 s and the other is terminated once running
    timed = client.submit_job(
        jobName="t",
        jobQueue=emulator.queue_arn,
        jobDefinition="it-sleep",
        timeout={"attemptDurationSeconds": 1},
    )
    stopped = client.submit_job(jobName="k", jobQueue=emulator.queue_arn, jobDefinition="it-sleep")
    _wait(lambda: client.describe_jobs(jobs=[stopped["jobId"]])["jobs"][0]["status"] == "RUNNING")
    started = time.monotonic()
    client.terminate_job(jobId=stopped["jobId"], reason="Cancelled by the producer")

    # Then
    stopped_done = _finished(emulator, stopped["jobId"])
    assert time.monotonic() - started < 10
    assert stopped_done["status"] == "FAILED"
    assert stopped_done["statusReason"] == "Cancelled by the producer"
    timed_done = _finished(emulator, timed["jobId"])
    assert timed_done["status"] == "FAILED"
    assert timed_done["statusReason"] == batch_jobs.TIMEOUT_REASON


def test_unknown_job_definition_is_a_client_error(emulator: Emulator) -> None:
    with pytest.raises(ClientError) as error:
        emulator.client("batch").submit_job(jobName="x", jobQueue=emulator.queue_arn, jobDefinition="it-none")
    assert error.value.response["Error"]["Code"] == "ClientException"


# ----------------------------------------------------------------------------- Step Functions
def _run_state_machine(emulator: Emulator, name: str, definition: dict, payload: dict) -> dict[str, Any]:
    client = emulator.client("stepfunctions")
    arn = client.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = client.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    return _wait(
        lambda: (d := client.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        timeout=60,
        every=0.3,
    )


def test_state_machine_lambda_tasks_retry_and_catch_handler_errors(
    emulator: Emulator, handlers: dict
) -> None:
    # Given a handler failing once with a transient error, and one always failing
    class TransientError(Exception):
        pass

    calls = {"n": 0}

    def flaky(event: dict, context: Any) -> dict:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("try again")
        return {"frames": event["frames"] + 1}

    def fatal(event: dict, context: Any) -> None:
        raise ValueError("corrupt file")

    handlers["flaky"], handlers["fatal"] = flaky, fatal
    arn = "arn:aws:lambda:us-east-1:123456789012:function:keyframe-it-{}"
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn.format("flaky"), "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "ResultSelector": {"frames.$": "$.Payload.frames"},
                "ResultPath": "$.flaky",
                "Next": "Fatal",
            },
            "Fatal": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn.format("fatal"), "Payload.$": "$"},
                "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Failed"}],
                "End": True,
            },
            "Failed": {"Type": "Pass", "End": True},
        },
    }

    # When
    result = _run_state_machine(emulator, "it-lambda", definition, {"frames": 23})

    # Then
    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["flaky"] == {"frames": 24}
    assert output["error"]["Error"] == "ValueError"
    assert "corrupt file" in output["error"]["Cause"]
    assert calls["n"] == 2


def test_state_machine_batch_sync_waits_for_the_job_and_catches_its_failure(emulator: Emulator) -> None:
    # Given a job definition exiting with the code given as a parameter
    _job_definition(emulator, "it-sync", ["python", "-c", "import sys; sys.exit(int('Ref::code'))"])
    definition = {
        "StartAt": "Render",
        "States": {
            "Render": {
                "Type": "Task",
                "Resource": "arn:aws:states:::batch:submitJob.sync",
                "Parameters": {
                    "JobName": "render",
                    "JobQueue": emulator.queue_arn,
                    "JobDefinition": "it-sync",
                    "Parameters": {"code.$": "$.code"},
                },
                "ResultSelector": {"status.$": "$.Status", "exitCode.$": "$.Container.ExitCode"},
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}],
                "End": True,
            },
            "Failed": {"Type": "Pass", "End": True},
        },
    }

    # When
    ok = _run_state_machine(emulator, "it-batch-ok", definition, {"code": "0"})
    failed = _run_state_machine(emulator, "it-batch-fail", definition, {"code": "5"})

    # Then
    assert ok["status"] == "SUCCEEDED"
    assert json.loads(ok["output"]) == {"status": "SUCCEEDED", "exitCode": 0}
    assert failed["status"] == "SUCCEEDED"
    caught = json.loads(failed["output"])["error"]
    assert caught["Error"] == "States.TaskFailed"
    assert json.loads(caught["Cause"])["Status"] == "FAILED"


# -------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_creates_everything_and_is_idempotent(emulator: Emulator) -> None:
    # Given an emulator / When the resources are bootstrapped twice
    first = bootstrap.bootstrap(emulator.session, "boot")
    second = bootstrap.bootstrap(emulator.session, "boot")

    # Then the second run changes nothing and every resource named in the environment exists
    assert first == second
    assert first["MEDIA_BUCKET"] == "keyframe-boot-media"
    tables = emulator.client("dynamodb").list_tables()["TableNames"]
    assert {first[spec.env_var] for spec in TABLES} <= set(tables)
    s3 = emulator.client("s3")
    assert s3.get_bucket_versioning(Bucket=first["MEDIA_BUCKET"])["Status"] == "Enabled"
    assert s3.get_bucket_cors(Bucket=first["MEDIA_BUCKET"])["CORSRules"][0]["ExposeHeaders"] == ["ETag"]
    emulator.client("secretsmanager").describe_secret(SecretId=first["JWT_SECRET_NAME"])
    for path in bootstrap.state_machine_files():
        machine = first[bootstrap.state_machine_env_var(bootstrap.state_machine_stem(path))]
        assert (
            emulator.client("stepfunctions").describe_state_machine(stateMachineArn=machine)["status"]
            == "ACTIVE"
        )
    for spec in batch.JOB_DEFINITIONS:
        assert first[bootstrap.job_definition_env_var(spec.name)].endswith(f"keyframe-boot-{spec.name}:1")


def test_an_absent_optional_field_takes_the_default_branch_without_an_error_line(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the render machine's first state: IsPresent on an optional field of the input
    definition = {
        "StartAt": "ChooseQueue",
        "States": {
            "ChooseQueue": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.jobQueue", "IsPresent": True, "Next": "Given"}],
                "Default": "Standard",
            },
            "Given": {"Type": "Pass", "Result": "given", "ResultPath": "$.used", "End": True},
            "Standard": {"Type": "Pass", "Result": "standard", "ResultPath": "$.used", "End": True},
        },
    }
    caplog.set_level(logging.INFO)

    # When it runs without the field, then with it
    without = _run_state_machine(emulator, "it-choice", definition, {"renderJobId": "r1"})
    arn = without["stateMachineArn"]
    client = emulator.client("stepfunctions")
    execution = client.start_execution(
        stateMachineArn=arn, name="with-queue", input=json.dumps({"jobQueue": "high"})
    )
    given = _wait(
        lambda: (
            (d := client.describe_execution(executionArn=execution["executionArn"]))["status"] != "RUNNING"
            and d
        )
    )

    # Then each takes its branch, and the interpreter logged no error for the absent field
    assert json.loads(without["output"])["used"] == "standard"
    assert json.loads(given["output"])["used"] == "given"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


# ------------------------------------------------------------------------------------ pollers' wake-ups
def test_writes_wake_the_pollers_and_reads_do_not(emulator: Emulator) -> None:
    # Given callbacks for DynamoDB and SQS writes (the local stack's stream and queue pollers' wake)
    woken: list[str] = []
    emulator.app.on_write["DynamoDB_20120810"] = [lambda: woken.append("dynamodb")]
    emulator.app.on_write["AmazonSQS"] = [lambda: woken.append("sqs")]
    try:
        dynamodb, sqs = emulator.client("dynamodb"), emulator.client("sqs")
        dynamodb.create_table(
            TableName="it-wake",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        queue_url = sqs.create_queue(QueueName="it-wake")["QueueUrl"]

        # When an item is read, written and read again, and a message is sent and received
        dynamodb.get_item(TableName="it-wake", Key={"pk": {"S": "a"}})
        dynamodb.put_item(TableName="it-wake", Item={"pk": {"S": "a"}})
        dynamodb.get_item(TableName="it-wake", Key={"pk": {"S": "a"}})
        sqs.send_message(QueueUrl=queue_url, MessageBody="hello")
        sqs.receive_message(QueueUrl=queue_url)

        # Then each write woke its poller once, after it was stored; no read did
        assert woken == ["dynamodb", "sqs"]
    finally:
        emulator.app.on_write.clear()


def test_a_part_whose_bytes_differ_from_its_signed_crc32_is_refused_as_s3_does(emulator: Emulator) -> None:
    # Given a multipart upload declaring CRC32 and a part URL signing the part's CRC32
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="crc-parts")
    upload = s3.create_multipart_upload(Bucket="crc-parts", Key="take.wav", ChecksumAlgorithm="CRC32")
    part = os.urandom(64 * 1024)
    crc = base64.b64encode(zlib.crc32(part).to_bytes(4, "big")).decode()
    params = {"Bucket": "crc-parts", "Key": "take.wav", "UploadId": upload["UploadId"], "PartNumber": 1,
              "ChecksumCRC32": crc}  # fmt: skip
    url = s3.generate_presigned_url("upload_part", Params=params, ExpiresIn=300)
    # When other bytes are sent to it, then S3's BadDigest answers and no part is stored
    corrupted = requests.put(url, data=part[:-1] + b"\0", headers={"x-amz-checksum-crc32": crc}, timeout=30)
    assert corrupted.status_code == 400 and "<Code>BadDigest</Code>" in corrupted.text
    listed = s3.list_parts(Bucket="crc-parts", Key="take.wav", UploadId=upload["UploadId"])
    assert listed.get("Parts", []) == []
    # When the right bytes are sent, then the part is stored
    sent = requests.put(url, data=part, headers={"x-amz-checksum-crc32": crc}, timeout=30)
    assert sent.status_code == 200, sent.text
    listed = s3.list_parts(Bucket="crc-parts", Key="take.wav", UploadId=upload["UploadId"])
    assert [p["Size"] for p in listed["Parts"]] == [len(part)]

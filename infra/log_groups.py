"""Names for log groups that must carry a fixed prefix and still survive a re-created stack.

Most log groups get a CloudFormation-generated name. A few services insist on a prefix
(``aws-waf-logs-`` for WAF, ``/aws/vendedlogs/`` to keep Step Functions off the account's log resource
policy). A prod log group is retained when its stack is deleted, so a fixed name would make the next
``cdk deploy`` of the same stack fail with "already exists". :func:`per_stack_name` appends the
stack's own id (the UUID at the end of ``AWS::StackId``), which is new every time the stack is created.
"""

from __future__ import annotations

from aws_cdk import Aws, Fn


def stack_uuid() -> str:
    """The UUID part of ``AWS::StackId`` (``arn:...:stack/<name>/<uuid>``): a token, new per stack."""
    return Fn.select(2, Fn.split("/", Aws.STACK_ID))


def per_stack_name(prefix: str) -> str:
    """``{prefix}-{stack uuid}``: a log group name no retained predecessor can already hold.

    Parameters
    ----------
    prefix:
        The readable start, e.g. ``aws-waf-logs-keyframe-prod`` (at most 475 characters: log group
        names are limited to 512).
    """
    return f"{prefix}-{stack_uuid()}"

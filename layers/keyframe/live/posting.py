"""``PostToConnection`` without botocore's per-call machinery: SigV4-signed POSTs over one HTTP pool.

The fan-out posts one envelope to hundreds of connections. Through a boto3 client every post pays
botocore's per-call path (parameter validation, serialisation, the event hooks, response parsing):
about 1-2 ms of CPU, held under the GIL, so 500 posts cost about a second whatever the thread pool.
The ``@connections`` call itself is tiny (``POST {endpoint}/@connections/{id}`` with the payload as
the body, signed for ``execute-api``), so :class:`ConnectionPoster` builds it directly: one SigV4
signature (botocore's own signer, with the process's credentials) and one request on a pooled,
kept-alive urllib3 connection. What comes back:

- 2xx: delivered;
- 410 ``GoneException``: the connection is gone (the fan-out prunes its record);
- 429 / 5xx / a network error: retried once after 50 ms (as boto3's standard retry mode did with
  ``max_attempts=2``), then logged and given up (the connection is kept);
- any other 4xx: logged and given up.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.session import get_session

from keyframe.observability import logger

RETRY_DELAY_SECONDS = 0.05
CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0


class Gone(Exception):
    """The connection no longer exists (``@connections`` answered 410 ``GoneException``)."""


@dataclass
class ConnectionPoster:
    """Posts payloads to connections of one ``@connections`` endpoint (thread-safe; one per process).

    Parameters
    ----------
    endpoint:
        ``LIVE_CONNECTIONS_ENDPOINT``: ``https://{api}.execute-api.{region}.amazonaws.com/{stage}`` in
        the cloud, the local gateway's ``http://127.0.0.1:{port}`` offline.
    pool_size:
        Kept-alive connections to the endpoint (the fan-out's worker count).
    """

    endpoint: str
    pool_size: int = 16
    region: str = field(default_factory=lambda: os.environ.get("AWS_REGION") or "us-east-1")
    _pool: urllib3.PoolManager = field(init=False, repr=False)
    _credentials: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint.rstrip("/")
        self._pool = urllib3.PoolManager(
            maxsize=self.pool_size,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
        )
        self._credentials = get_session().get_credentials()

    def _headers(self, url: str, payload: bytes) -> dict[str, str]:
        request = AWSRequest(method="POST", url=url, data=payload)
        if self._credentials is not None:  # a local gateway without credentials takes unsigned posts
            frozen = self._credentials.get_frozen_credentials()
            SigV4Auth(frozen, "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())

    def post(self, connection_id: str, payload: bytes) -> None:
        """Send ``payload`` to ``connection_id``.

        Raises
        ------
        Gone
            The connection no longer exists (410).
        """
        url = f"{self.endpoint}/@connections/{quote(connection_id, safe='')}"
        for attempt in (1, 2):
            try:
                answer = self._pool.request("POST", url, body=payload, headers=self._headers(url, payload))
            except urllib3.exceptions.HTTPError as exc:
                status, detail = 0, str(exc)
            else:
                status, detail = answer.status, answer.data[:200].decode(errors="replace")
                if status < 300:
                    return
                if status == 410:
                    raise Gone(connection_id)
            if attempt == 1 and (status in {0, 429} or status >= 500):
                time.sleep(RETRY_DELAY_SECONDS)
                continue
            logger.warning(
                "post to connection failed",
                extra={"connection_id": connection_id, "status": status, "error": detail},
            )
            return

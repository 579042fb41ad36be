"""Where a webhook may point: SSRF rules checked when an endpoint is saved and before every attempt.

In the cloud configuration a target must be ``https://`` and every address its host resolves to must
be public (:attr:`ipaddress.IPv4Address.is_global`: no private, loopback, link-local, multicast,
reserved or shared ranges, no IPv4-mapped private IPv6). Deliveries never follow redirects (a 3xx
answer is a failed attempt), so a redirect cannot lead a request to a private address; the host is
resolved again before each attempt, so a name that later points inside is refused then.

The local stack sets ``WEBHOOK_ALLOW_LOCAL_HTTP=true``: ``http://`` or ``https://`` to
``127.0.0.1``, ``::1`` or ``localhost`` is allowed there (development and tests); nothing else
changes.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from keyframe.errors import InvalidInput, field_details

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _refuse(code: str, message: str, url: str) -> InvalidInput:
    return InvalidInput(message, code=code, details=field_details("url", message, url=url))


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA); an IP literal is itself; empty when unresolved."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check(url: str, *, allow_local_http: bool) -> None:
    """Refuse ``url`` unless a webhook may be sent there.

    Raises
    ------
    InvalidInput
        ``WEBHOOK_URL_NOT_HTTPS`` (another scheme, or credentials in the URL),
        ``WEBHOOK_URL_UNRESOLVED`` (the host does not resolve) or ``WEBHOOK_URL_PRIVATE`` (it resolves
        to a private, loopback, link-local or otherwise non-public address).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.username or parts.password or not host:
        raise _refuse(
            "WEBHOOK_URL_NOT_HTTPS", "a webhook URL is https://host[:port]/path, no credentials", url
        )
    if allow_local_http and host in LOCAL_HOSTS and parts.scheme in {"http", "https"}:
        return
    if parts.scheme != "https":
        raise _refuse("WEBHOOK_URL_NOT_HTTPS", "a webhook URL must use https://", url)
    addresses = resolve(host, parts.port or 443)
    if not addresses:
        raise _refuse("WEBHOOK_URL_UNRESOLVED", f"the host {host} does not resolve", url)
    private = [a for a in addresses if not is_public(a)]
    if private:
        raise _refuse(
            "WEBHOOK_URL_PRIVATE",
            f"the host {host} resolves to a non-public address ({private[0]})",
            url,
        )

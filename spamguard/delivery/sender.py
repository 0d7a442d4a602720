"""One HTTP POST to a checked address, with a time limit and a bounded read of the answer."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from .urls import Target

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "SpamGuard-Delivery/1"


@dataclass
class Answer:
    status: int | None  # None: no HTTP answer at all (refused, timeout, TLS failure)
    body: bytes = b""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to the address that was checked, not to whatever the name resolves to now.

    The Host header and (for https) the TLS server name and certificate check
    still use the host name.  Redirects are not followed: a 3xx is a failed
    attempt, so a receiver cannot bounce SpamGuard to an internal address.
    """
    url = httpx.URL(target.url).copy_with(host=target.address, port=target.port)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    request_headers = {"User-Agent": USER_AGENT, **headers, "Host": host_header}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            request = client.build_request("POST", url, content=body, headers=request_headers, extensions=extensions)
            response = client.send(request, stream=True)
            try:
                data = b""
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) >= MAX_ANSWER_BYTES:
                        break
                return Answer(response.status_code, data[:MAX_ANSWER_BYTES])
            finally:
                response.close()
    except httpx.HTTPError as exc:
        return Answer(None, error=f"{type(exc).__name__}: {exc}"[:500])

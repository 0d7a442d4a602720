"""Per-key limits and usage on the wire (spec §5 / §8 cases 37 and 48), against real Redis."""

from __future__ import annotations

import re

from akismet_wire import CASE8, add_site

LIMITED_KEY = "aaaaaaaaaaaa"


def test_over_limit_key_fails_open_with_alerts_and_others_are_untouched(api_app, api, db):
    from spamguard.storage.models import Site

    site_id = add_site(api_app, LIMITED_KEY)
    site = db.get(Site, site_id)
    site.rate_limit = "2/minute"
    db.commit()
    body = {**CASE8, "api_key": LIMITED_KEY, "comment_author": "akismet-guaranteed-spam"}
    assert [api.post("/1.1/comment-check", data=body).data for _ in range(2)] == [b"true", b"true"]

    refused = api.post("/1.1/comment-check", data=body)
    assert refused.status_code == 200 and refused.data == b"false"  # fail open, as §5 recommends
    assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-akismet-guid"])
    assert refused.headers["X-akismet-error"] == "Rate limit exceeded"
    assert refused.headers["X-akismet-alert-code"] == "10508" and refused.headers["X-akismet-alert-msg"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "X-akismet-debug-help" not in refused.headers

    json_refused = api.post("/api/v1/check", json={**CASE8, "api_key": LIMITED_KEY})
    assert json_refused.status_code == 429 and int(json_refused.headers["Retry-After"]) >= 1
    assert json_refused.get_json()["error"]["code"] == "rate_limited"

    # The next normal key gets a normal answer with no alert headers.
    normal = api.post("/1.1/comment-check", data=CASE8)
    assert normal.data == b"false"
    assert not [h for h in normal.headers.keys() if h.lower().startswith(("x-akismet-alert", "x-akismet-error"))]


def test_usage_counts_every_answered_check_once(api):
    def usage() -> int:
        return api.get(f"/1.2/usage-limit?api_key={CASE8['api_key']}").get_json()["usage"]

    before = usage()
    api.post("/1.1/comment-check", data=CASE8)
    api.post("/api/v1/check", json=CASE8)
    api.post("/1.1/comment-check", data={**CASE8, "is_test": "true"})  # test calls count as calls
    api.post("/1.1/comment-check", data={**CASE8, "user_ip": ""})  # an error: not a call
    api.post("/1.1/submit-spam", data=CASE8)  # reports are not checks
    assert usage() == before + 3

"""Hostile or malformed input on both APIs (Flask test client), and the JSON API itself."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from akismet_wire import CASE8, B, K
from sqlalchemy import select

from spamguard.storage.models import Check, Feedback

FORM = "application/x-www-form-urlencoded"


def test_empty_body(api):
    response = api.post("/1.1/comment-check", data=b"", content_type=FORM)
    assert response.status_code == 200 and response.data == b"invalid"
    assert response.headers["X-akismet-debug-help"] == 'Empty "api_key" value'


def test_ten_megabyte_body_is_413_text(api):
    body = urlencode(CASE8).encode() + b"&comment_content=" + b"x" * (10 * 1024 * 1024)
    response = api.post("/1.1/comment-check", data=body, content_type=FORM)
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.data == b"Request Entity Too Large"
    assert re.match(r"^Request body larger than \d+ bytes$", response.headers["X-akismet-debug-help"])
    assert api.post("/1.1/comment-check", data=CASE8).data == b"false"  # still answering


def test_body_of_exactly_the_limit_is_accepted(api_app, api):
    base = urlencode(CASE8).encode() + b"&pad="
    body = base + b"p" * (api_app.config["MAX_CONTENT_LENGTH"] - len(base))
    response = api.post("/1.1/comment-check", data=body, content_type=FORM)
    assert response.status_code == 200 and response.data == b"false"
    assert api.post("/1.1/comment-check", data=body + b"p", content_type=FORM).status_code == 413


def test_one_megabyte_field_over_the_body_limit(api):
    response = api.post("/1.1/submit-spam", data={**CASE8, "comment_content": "y" * (1024 * 1024)})
    assert response.status_code == 413 and "X-akismet-debug-help" in response.headers


def test_large_field_under_body_limit_is_capped(api_app, api, db):
    limit = api_app.config["SPAMGUARD_MAX_FIELD_CHARS"]
    text = "word " * ((limit // 5) + 2000)
    response = api.post("/1.1/comment-check", data={**CASE8, "comment_content": text})
    assert response.data in (b"true", b"false")
    check = db.scalar(select(Check).where(Check.guid == response.headers["X-akismet-guid"]))
    assert len(check.comment_content) == limit


def test_invalid_utf8_and_nul_bytes_are_answered(api, db):
    base = {k: v for k, v in CASE8.items() if k not in ("comment_author", "comment_content")}
    body = urlencode(base).encode() + b"&comment_author=Ja\xffne%00&comment_content=Hi\x00there%C3%28"
    response = api.post("/1.1/comment-check", data=body, content_type=FORM)
    assert response.status_code == 200 and response.data == b"false"
    check = db.scalar(select(Check).where(Check.guid == response.headers["X-akismet-guid"]))
    assert "\x00" not in check.comment_content and "\x00" not in check.comment_author
    assert check.comment_author == "Ja\ufffdne"


@pytest.mark.parametrize(
    "content_type,body",
    [
        ("application/json", b'{"api_key": "%s", "blog": "%s", "user_ip": "1.2.3.4"}' % (K.encode(), B.encode())),
        (
            "multipart/form-data; boundary=XX",
            b'--XX\r\nContent-Disposition: form-data; name="api_key"\r\n\r\n' + K.encode() + b"\r\n--XX--\r\n",
        ),
        ("text/plain", urlencode(CASE8).encode()),
    ],
)
def test_non_form_bodies_are_no_fields(api, content_type, body):
    response = api.post("/1.1/comment-check", data=body, content_type=content_type)
    assert response.status_code == 200 and response.data == b"invalid"
    assert response.headers["X-akismet-debug-help"] == 'Empty "api_key" value'


def test_a_thousand_fields(api):
    body = urlencode(list(CASE8.items()) + [(f"POST_field_{i}", "v" * 20) for i in range(1000)])
    response = api.post("/1.1/comment-check", data=body, content_type=FORM)
    assert response.status_code == 200 and response.data in (b"true", b"false")


def test_no_content_type_still_parsed_as_form(api):
    response = api.post("/1.1/verify-key", data=f"key={K}&blog={B}".encode(), content_type="")
    assert response.data == b"valid"


def test_unknown_path_and_method_on_json_api(api):
    response = api.get("/api/v1/check")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"
    assert api.post("/api/v1/nope", json={}).get_json()["error"]["code"] == "not_found"


# -- JSON API ----------------------------------------------------------------------------------
JSON8 = {k: v for k, v in CASE8.items()}


def test_json_check(api, db):
    response = api.post("/api/v1/check", json={**JSON8, "comment_context": ["x", "y"], "is_test": True})
    assert response.status_code == 200
    data = response.get_json()
    assert re.fullmatch(r"[0-9a-f]{32}", data["guid"]) and data["verdict"] in ("ham", "unsure")
    assert 0 <= data["score"] <= 1 and isinstance(data["reasons"], list) and data["model_version"]
    assert data["akismet"] == {"result": "false", "pro_tip": None} and data["is_test"] is True
    check = db.scalar(select(Check).where(Check.guid == data["guid"]))
    assert check.is_test and check.fields["comment_context"] == ["x", "y"]


def test_json_check_bearer_and_triggers(api):
    body = {k: v for k, v in JSON8.items() if k != "api_key"}
    response = api.post(
        "/api/v1/check",
        json={**body, "comment_author": "akismet-guaranteed-discard"},
        headers={"Authorization": f"Bearer {K}"},
    )
    data = response.get_json()
    assert data["verdict"] == "discard" and data["akismet"] == {"result": "true", "pro_tip": "discard"}


@pytest.mark.parametrize(
    "kwargs,status,code",
    [
        ({"data": b"{not json", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": b"\xff\xfe{", "content_type": "application/json"}, 400, "invalid_json"),
        ({"json": ["a list"]}, 400, "invalid_json"),
        ({"data": b"[" * 100_000, "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": b"", "content_type": "application/json"}, 400, "invalid_json"),
        ({"json": {k: v for k, v in CASE8.items() if k != "api_key"}}, 401, "missing_api_key"),
        ({"json": {**CASE8, "api_key": "000000000000"}}, 401, "invalid_api_key"),
        ({"json": {k: v for k, v in CASE8.items() if k != "user_ip"}}, 422, "missing_field"),
        ({"json": {**CASE8, "comment_content": {"nested": 1}}}, 422, "invalid_field"),
        (
            {"data": b'{"x": "' + b"a" * (10 * 1024 * 1024) + b'"}', "content_type": "application/json"},
            413,
            "body_too_large",
        ),
    ],
)
def test_json_check_errors(api, kwargs, status, code):
    response = api.post("/api/v1/check", **kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == code


def test_json_feedback_by_guid_and_by_fields(api, db):
    guid = api.post("/api/v1/check", json={**JSON8, "comment_content": "json feedback 7781"}).get_json()["guid"]
    response = api.post("/api/v1/feedback", json={"api_key": K, "guid": guid, "label": "spam", "reporter": "mod"})
    assert response.status_code == 200 and response.get_json()["matched_guid"] == guid
    row = db.get(Feedback, response.get_json()["feedback_id"])
    assert row.label == "spam" and row.check.guid == guid and row.reporter == "mod"
    by_fields = api.post("/api/v1/feedback", json={**JSON8, "comment_content": "json feedback 7781", "label": "ham"})
    assert by_fields.get_json()["matched_guid"] == guid
    assert api.post("/api/v1/feedback", json={"api_key": K, "guid": "f" * 32, "label": "spam"}).status_code == 404
    bad = api.post("/api/v1/feedback", json={"api_key": K, "guid": guid, "label": "maybe"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_label"


def test_openapi_document(api):
    response = api.get("/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    for path in (
        "/1.1/verify-key",
        "/1.1/comment-check",
        "/1.1/submit-spam",
        "/1.1/submit-ham",
        "/1.2/key-sites",
        "/1.2/usage-limit",
        "/1.1/test",
        "/api/v1/check",
        "/api/v1/feedback",
    ):
        assert path in doc["paths"]
    assert "X-akismet-guid" in doc["paths"]["/1.1/comment-check"]["post"]["responses"]["200"]["headers"]
    assert "get" in doc["paths"]["/1.2/usage-limit"] and "post" in doc["paths"]["/1.2/usage-limit"]

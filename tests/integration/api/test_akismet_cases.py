"""The spec's §8 compatibility plan, cases 1-47, against the Flask app (48/49: limits and bench)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from akismet_wire import CASE8, B, K
from sqlalchemy import select

from spamguard.storage.models import Check, Feedback, Site

GUID = re.compile(r"^[0-9a-f]{32}$")
THANKS = "Thanks for making the web a better place."
NO_KEY = {k: v for k, v in CASE8.items() if k != "api_key"}


def with_(base: dict, **changes) -> dict:
    data = dict(base)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


SPAM9 = with_(CASE8, comment_author="akismet-guaranteed-spam")

# (case, method, path, form data, headers, status, body, debug-help: None = must be absent, "" = any, str = exact)
SIMPLE = [
    (1, "POST", "/1.1/verify-key", {"key": K, "blog": B}, {}, 200, "valid", None),
    (2, "POST", "/1.1/verify-key", {"api_key": K, "blog": B}, {}, 200, "valid", None),
    (3, "POST", "/1.1/verify-key", {"key": K, "blog": B, "api_key": "ffffffffffff"}, {}, 200, "valid", None),
    (4, "POST", "/1.1/verify-key", {"key": "000000000000", "blog": B}, {}, 200, "invalid", ...),
    (5, "POST", "/1.1/verify-key", {"blog": B}, {}, 200, "invalid", 'Empty "api_key" value'),
    (6, "POST", "/1.1/verify-key", {"key": K}, {}, 200, "invalid", 'Empty "blog" value'),
    (8, "POST", "/1.1/comment-check", CASE8, {}, 200, "false", None),
    (9, "POST", "/1.1/comment-check", SPAM9, {}, 200, "true", None),
    (
        10,
        "POST",
        "/1.1/comment-check",
        with_(CASE8, comment_author_email="akismet-guaranteed-spam@example.com"),
        {},
        200,
        "true",
        None,
    ),
    (11, "POST", "/1.1/comment-check", with_(CASE8, comment_author="viagra-test-123"), {}, 200, "true", None),
    (12, "POST", "/1.1/comment-check", with_(SPAM9, user_role="administrator"), {}, 200, "false", None),
    (13, "POST", "/1.1/comment-check", with_(CASE8, user_role="editor,administrator"), {}, 200, "false", None),
    (
        16,
        "POST",
        "/1.1/comment-check",
        with_(SPAM9, api_key=None),
        {"Host": f"{K}.rest.akismet.com"},
        200,
        "true",
        None,
    ),
    (
        17,
        "POST",
        "/1.1/comment-check",
        with_(SPAM9, api_key=None),
        {"Host": "0123456789AB.akismet.local:5000"},
        200,
        "true",
        None,
    ),
    (18, "POST", "/1.1/comment-check", NO_KEY, {"Host": "rest.akismet.com"}, 200, "invalid", 'Empty "api_key" value'),
    (21, "POST", "/1.1/comment-check", with_(CASE8, api_key="000000000000"), {}, 200, "invalid", ...),
    (
        22,
        "POST",
        "/1.1/comment-check",
        with_(CASE8, user_ip=None),
        {},
        200,
        "Missing required field: user_ip.",
        'Empty "user_ip" value',
    ),
    (
        23,
        "POST",
        "/1.1/comment-check",
        with_(CASE8, blog=None),
        {},
        200,
        "Missing required field: blog.",
        'Empty "blog" value',
    ),
    (
        24,
        "POST",
        "/1.1/comment-check",
        with_(CASE8, user_ip=""),
        {},
        200,
        "Missing required field: user_ip.",
        'Empty "user_ip" value',
    ),
    (25, "POST", "/1.1/comment-check", with_(CASE8, honeypot_field_name="hp", hp="buy now"), {}, 200, "true", None),
    (26, "POST", "/1.1/comment-check", with_(CASE8, honeypot_field_name="hp", hp=""), {}, 200, "false", None),
    (27, "POST", "/1.1/comment-check", with_(CASE8, honeypot_field_name="hp"), {}, 200, "false", None),
    (29, "POST", "/1.1/submit-spam", CASE8, {}, 200, THANKS, None),
    (30, "POST", "/1.1/submit-ham", CASE8, {}, 200, THANKS, None),
    (31, "POST", "/1.1/submit-spam", NO_KEY, {"Host": f"{K}.rest.akismet.com"}, 200, THANKS, None),
    (32, "POST", "/1.1/submit-ham", with_(CASE8, api_key="000000000000"), {}, 200, "invalid", ...),
    (36, "GET", "/1.2/usage-limit", None, {}, 200, "invalid", 'Empty "api_key" value'),
    (41, "GET", "/1.2/key-sites?month=2022-09&format=json", None, {}, 200, "invalid", 'Empty "api_key" value'),
    (42, "GET", "/1.1/test", None, {}, 200, "connected", None),
    (45, "POST", "/1.1/deactivate", {"key": K, "blog": B}, {}, 200, "deactivated", None),
]


@pytest.mark.parametrize("case,method,path,data,headers,status,body,debug", SIMPLE, ids=[f"case{c[0]}" for c in SIMPLE])
def test_simple_cases(api, case, method, path, data, headers, status, body, debug):
    response = api.open(path, method=method, data=data, headers=headers)
    assert response.status_code == status
    assert response.get_data(as_text=True) == body  # exact: no trailing newline or whitespace
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    if debug is None:
        assert "X-akismet-debug-help" not in response.headers
        assert "X-akismet-error" not in response.headers
    elif debug is not ...:
        assert response.headers["X-akismet-debug-help"] == debug
    if path.endswith("comment-check"):
        if body in ("true", "false"):
            assert GUID.match(response.headers["X-akismet-guid"])
            assert response.headers["X-Spamguard-Verdict"] in ("ham", "unsure", "spam", "discard")
            assert re.match(r"^\d\.\d{4}$", response.headers["X-Spamguard-Score"])
            assert (response.headers.get("X-akismet-pro-tip") == "discard") == (
                response.headers["X-Spamguard-Verdict"] == "discard"
            )
        else:
            assert "X-akismet-guid" not in response.headers


def test_case7_json_body_is_no_fields(api):
    response = api.post("/1.1/verify-key", json={"key": K, "blog": B})
    assert response.get_data(as_text=True) == "invalid"
    assert response.headers["X-akismet-debug-help"] == 'Empty "api_key" value'


def test_case14_three_checks_three_guids(api):
    guids = {api.post("/1.1/comment-check", data=CASE8).headers["X-akismet-guid"] for _ in range(3)}
    assert len(guids) == 3 and all(GUID.match(g) for g in guids)


def test_case15_is_test_spellings_stored_not_counted(api, db):
    site = db.scalar(select(Site).limit(1))
    month = datetime.now(UTC).strftime("%Y-%m")
    before = json.loads(api.get(f"/1.2/key-sites?api_key={K}&filter=blog.example").data)[month]
    before_spam = int(before[0]["spam"]) if before else 0
    stored = {}
    for value in ("1", "true", "false"):
        response = api.post("/1.1/comment-check", data=with_(SPAM9, is_test=value))
        assert response.get_data(as_text=True) == "true"
        guid = response.headers["X-akismet-guid"]
        stored[value] = db.scalar(select(Check.is_test).where(Check.guid == guid, Check.site_id == site.id))
    assert stored == {"1": True, "true": True, "false": False}
    after = json.loads(api.get(f"/1.2/key-sites?api_key={K}&filter=blog.example").data)[month]
    assert int(after[0]["spam"]) == before_spam + 1  # only the is_test=false call is a statistic


WORDPRESS_BODY = (
    "comment_post_ID=42&comment_author=Jane+Doe&comment_author_email=jane%40example.org&comment_author_url"
    "&comment_content=Thanks+for+the+write-up%2C+the+second+example+helped+me+a+lot.&comment_type=comment"
    "&comment_parent=0&user_ID=0&user_id=0&comment_author_IP=203.0.113.5"
    "&comment_agent=Mozilla%2F5.0+%28Windows+NT+10.0%3B+Win64%3B+x64%3B+rv%3A126.0%29+Gecko%2F20100101+Firefox%2F126.0"
    "&comment_date=2024-05-20+12%3A01%3A02&comment_date_gmt=2024-05-20+10%3A01%3A02&comment_approved=0"
    "&user_agent=Mozilla%2F5.0+%28Windows+NT+10.0%3B+Win64%3B+x64%3B+rv%3A126.0%29+Gecko%2F20100101+Firefox%2F126.0"
    "&referrer&blog_lang=en_US&blog_charset=UTF-8&permalink=https%3A%2F%2Fblog.example%2F2024%2F05%2Fhello-world%2F"
    "&user_role&akismet_comment_nonce=failed&comment_context%5B0%5D=Tag+one&comment_context%5B1%5D=News"
    "&POST_author=Jane+Doe&POST_email=jane%40example.org&POST_url"
    "&POST_comment=Thanks+for+the+write-up%2C+the+second+example+helped+me+a+lot.&POST_submit=Post+Comment"
    "&POST_comment_post_ID=42&POST_comment_parent=0&POST_ak_hp_textarea&POST_ak_js=1716199142000"
    "&HTTP_HOST=blog.example&HTTP_USER_AGENT=Mozilla%2F5.0+%28Windows+NT+10.0%3B+Win64%3B+x64%3B+rv%3A126.0%29"
    "&HTTP_ACCEPT=text%2Fhtml%2Capplication%2Fxhtml%2Bxml%2Capplication%2Fxml%3Bq%3D0.9%2C%2A%2F%2A%3Bq%3D0.8"
    "&HTTP_ACCEPT_LANGUAGE=en-US%2Cen%3Bq%3D0.5&HTTP_REFERER=https%3A%2F%2Fblog.example%2F2024%2F05%2Fhello-world%2F"
    "&REMOTE_ADDR=203.0.113.5&REQUEST_URI=%2Fwp-comments-post.php&DOCUMENT_URI=%2Fwp-comments-post.php"
    "&comment_post_modified_gmt=2024-05-20+09%3A00%3A00"
)


def test_case19_wordpress_raw_body(api, db):
    body = f"{WORDPRESS_BODY}&api_key={K}&blog=https%3A%2F%2Fblog.example&user_ip=203.0.113.5&is_test=true"
    response = api.post(
        "/1.1/comment-check",
        data=body.encode(),
        headers={
            "Host": "rest.akismet.com",
            "User-Agent": "WordPress/6.5.3 | Akismet/5.3.2",
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            "Connection": "close",
        },
        environ_overrides={"SERVER_PROTOCOL": "HTTP/1.0"},
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "false", dict(response.headers)
    check = db.scalar(select(Check).where(Check.guid == response.headers["X-akismet-guid"]))
    assert check.fields["comment_context"] == ["Tag one", "News"]
    assert check.is_test is True
    assert check.fields["referrer"] == "" and check.fields["user_role"] == ""
    assert check.fields["comment_date_gmt"].startswith("2024-05-20T10:01:02")
    assert check.fields["extra"]["comment_post_ID"] == "42"
    assert check.fields["extra"]["akismet_comment_nonce"] == "failed"
    assert "api_key" not in check.fields["extra"]  # keys are never stored


def test_case20_bracket_context(api, db):
    body = urlencode(list(CASE8.items()) + [("comment_context[]", "a"), ("comment_context[]", "b")])
    response = api.post("/1.1/comment-check", data=body, content_type="application/x-www-form-urlencoded")
    assert response.get_data(as_text=True) == "false"
    check = db.scalar(select(Check).where(Check.guid == response.headers["X-akismet-guid"]))
    assert check.fields["comment_context"] == ["a", "b"]


def test_case28_blatant_spam_discard(api):
    response = api.post("/1.1/comment-check", data=with_(CASE8, honeypot_field_name="hp", hp="buy now"))
    assert response.get_data(as_text=True) == "true"
    assert response.headers["X-akismet-pro-tip"] == "discard"
    assert GUID.match(response.headers["X-akismet-guid"])


def test_case29_30_feedback_rows_matched_to_check(api, db):
    body = with_(CASE8, comment_content="A unique comment for feedback matching 8841")
    guid = api.post("/1.1/comment-check", data=body).headers["X-akismet-guid"]
    for path, label in (("/1.1/submit-spam", "spam"), ("/1.1/submit-ham", "ham")):
        response = api.post(path, data=with_(body, reporter="moderator1"))
        assert response.data == THANKS.encode() and len(response.data) == 41
        row = db.scalar(select(Feedback).where(Feedback.label == label).order_by(Feedback.id.desc()).limit(1))
        assert row.check is not None and row.check.guid == guid  # matched by content, no GUID sent
        assert row.source == "api" and row.reporter == "moderator1"
    # A GUID field wins over content matching.
    other = api.post("/1.1/comment-check", data=with_(CASE8, comment_content="Another one 5512")).headers[
        "X-akismet-guid"
    ]
    assert api.post("/1.1/submit-spam", data=with_(body, guid=other)).data == THANKS.encode()
    row = db.scalar(select(Feedback).order_by(Feedback.id.desc()).limit(1))
    assert row.check.guid == other


def test_case33_34_usage_limit_get_and_post(api):
    for response in (api.get(f"/1.2/usage-limit?api_key={K}"), api.post("/1.2/usage-limit", data={"api_key": K})):
        assert response.status_code == 200 and response.mimetype == "application/json"
        data = response.get_json()
        assert set(data) == {"limit", "usage", "percentage", "throttled"}
        assert data["limit"] == "none" and isinstance(data["usage"], int)
        assert isinstance(data["percentage"], str) and isinstance(data["throttled"], bool)


def test_case35_usage_limit_extended(api):
    data = api.get(f"/1.2/usage-limit?api_key={K}&extended=true").get_json()
    assert isinstance(data["notice_level"], str) and data["upgrade"] is False


def test_case37_usage_counts_one_check(api):
    before = api.get(f"/1.2/usage-limit?api_key={K}").get_json()["usage"]
    assert api.post("/1.1/comment-check", data=CASE8).data in (b"true", b"false")
    assert api.get(f"/1.2/usage-limit?api_key={K}").get_json()["usage"] == before + 1


def test_usage_limit_percentage_with_a_limit(api, db):
    site = db.scalar(select(Site).limit(1))
    site.monthly_limit = 1000
    db.commit()
    try:
        data = api.get(f"/1.2/usage-limit?api_key={K}").get_json()
        assert data["limit"] == 1000 and data["percentage"] == f"{data['usage'] / 10:.2f}"
    finally:
        site.monthly_limit = None
        db.commit()


def test_case38_key_sites_json(api):
    api.post("/1.1/comment-check", data=CASE8)
    response = api.get(f"/1.2/key-sites?api_key={K}")
    assert response.mimetype == "application/json"
    data = response.get_json()
    month = datetime.now(UTC).strftime("%Y-%m")
    assert list(data) == [month, "limit", "offset", "total"]
    assert data["limit"] == 500 and data["offset"] == 0 and data["total"] == len(data[month]) >= 1
    row = data[month][0]
    assert set(row) == {"site", "api_calls", "spam", "ham", "missed_spam", "false_positives", "is_revoked"}
    assert row["site"] == "blog.example" and row["is_revoked"] is False
    assert all(
        isinstance(row[c], str) and row[c].isdigit()
        for c in ("api_calls", "spam", "ham", "missed_spam", "false_positives")
    )


def _seed_month(db, site_id: int, blog: str, spam: int, ham: int):
    when = datetime(2022, 9, 15, 12, tzinfo=UTC)
    for verdict in ["spam"] * spam + ["ham"] * ham:
        db.add(
            Check(
                guid=uuid.uuid4().hex,
                site_id=site_id,
                created_at=when,
                blog=blog,
                content_hash="x",
                fields={},
                score=0.5,
                verdict=verdict,
                reasons=[],
            )
        )
    db.commit()


def test_case39_key_sites_parameters(api, db):
    site = db.scalar(select(Site).limit(1))
    _seed_month(db, site.id, "https://blog-a.example", spam=5, ham=1)
    _seed_month(db, site.id, "https://blog-b.example", spam=2, ham=9)
    _seed_month(db, site.id, "https://other.example", spam=9, ham=9)
    data = api.get(f"/1.2/key-sites?api_key={K}&month=2022-09&limit=1&offset=1&order=spam&filter=blog").get_json()
    assert list(data) == ["2022-09", "limit", "offset", "total"]
    assert data["limit"] == 1 and data["offset"] == 1 and data["total"] == 2
    assert [r["site"] for r in data["2022-09"]] == ["blog-b.example"]  # blog-a has more spam, so it is row 0
    assert data["2022-09"][0]["spam"] == "2" and data["2022-09"][0]["ham"] == "9"
    by_ham = api.post("/1.2/key-sites", data={"api_key": K, "month": "2022-09", "order": "ham"}).get_json()
    assert [r["site"] for r in by_ham["2022-09"]][:2] == ["blog-b.example", "other.example"]


def test_case40_key_sites_csv(api):
    api.post("/1.1/comment-check", data=CASE8)
    response = api.get(f"/1.2/key-sites?api_key={K}&format=csv")
    month = datetime.now(UTC).strftime("%Y-%m")
    lines = response.get_data(as_text=True).split("\n")
    assert response.mimetype == "text/csv"
    assert re.fullmatch(rf"Active sites for {K} during {month} \(limit:500, offset: 0, total: (\d+)\)", lines[0])
    total = int(re.search(r"total: (\d+)", lines[0]).group(1))
    assert lines[1] == "Site,Total API Calls,Spam,Ham,Missed Spam,False Positives,Is Revoked"
    assert len(lines) == 2 + total
    assert re.fullmatch(r"blog\.example,\d+,\d+,\d+,\d+,\d+,(true|false)", lines[2])


def test_key_sites_counts_missed_spam_and_false_positives(api, db):
    month = datetime.now(UTC).strftime("%Y-%m")
    blog = "https://fb.example"

    def row():
        data = api.get(f"/1.2/key-sites?api_key={K}&filter=fb.example").get_json()[month]
        return data[0] if data else {"missed_spam": "0", "false_positives": "0"}

    before = row()
    ham = with_(CASE8, blog=blog, comment_content="Lovely photos from the trip 3391")
    spam = with_(SPAM9, blog=blog, comment_content="Spammy thing 3392")
    assert api.post("/1.1/comment-check", data=ham).data == b"false"
    assert api.post("/1.1/comment-check", data=spam).data == b"true"
    api.post("/1.1/submit-spam", data=ham)  # we said ham: missed spam
    api.post("/1.1/submit-ham", data=spam)  # we said spam: false positive
    after = row()
    assert int(after["missed_spam"]) == int(before["missed_spam"]) + 1
    assert int(after["false_positives"]) == int(before["false_positives"]) + 1


def test_case43_get_subscription(api):
    response = api.post("/1.1/get-subscription", data={"key": K, "blog": B, "api_key": K})
    assert response.mimetype == "application/json"
    assert '"status":"active"' in response.get_data(as_text=True)
    assert api.post("/1.1/get-subscription", data={"key": "000000000000", "blog": B}).data == b"invalid"


def test_case44_get_stats(api):
    data = api.post("/1.1/get-stats", data={"key": K, "blog": B, "from": "all"}).get_json()
    for name in ("spam", "ham", "missed_spam", "false_positives", "time_saved"):
        assert isinstance(data[name], int)
    assert 0.0 <= float(data["accuracy"]) <= 100.0


def test_case46_wrong_method(api):
    for path in ("/1.1/comment-check", "/1.1/verify-key", "/1.2/submit-spam"):
        response = api.get(path)
        assert response.status_code == 405
        assert response.headers["Allow"] == "POST"


def test_case47_unknown_path(api):
    response = api.post("/1.1/nope", data=CASE8)
    assert response.status_code == 404
    assert response.mimetype == "text/plain"


def test_versions_are_interchangeable(api):
    assert api.post("/1.2/verify-key", data={"key": K, "blog": B}).data == b"valid"
    assert api.post("/1.2/comment-check", data=SPAM9).data == b"true"
    assert api.get(f"/1.1/usage-limit?api_key={K}").mimetype == "application/json"
    assert api.get("/1.2/test").data == b"connected"


def test_token_and_wpcom(api):
    token = api.post("/1.1/token", data={"api_key": K})
    assert token.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", token.get_data(as_text=True))
    assert api.post("/1.1/token", data={"api_key": "000000000000"}).data == b"invalid"
    assert api.post("/1.1/verify-wpcom-key", data={"api_key": K}).data == b"invalid"


def test_basic_auth_key(api):
    import base64

    auth = base64.b64encode(f"{K}.:undefined".encode()).decode()
    response = api.post(
        "/1.1/comment-check", data=with_(SPAM9, api_key=None), headers={"Authorization": f"Basic {auth}"}
    )
    assert response.data == b"true"


def test_reasons_header_is_latin1_safe(api):
    response = api.post("/1.1/comment-check", data=with_(CASE8, comment_content="Ünïcödé 💊 ça va\r\nX-Evil: 1 pills"))
    reasons = response.headers["X-Spamguard-Reasons"]
    reasons.encode("ascii")
    assert "\r" not in reasons and "\n" not in reasons
    assert "X-Evil" not in response.headers

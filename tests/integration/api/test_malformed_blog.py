"""A malformed `blog` URL is stored as sent and must never break the statistics of its key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spamguard.api.usage_stats import site_name

BAD_BLOGS = ["http://[oops", "https://[::1", "http://]x[/", "//[", "http://a:b:c@[zz]:99999/"]


@pytest.mark.parametrize("blog", BAD_BLOGS)
def test_statistics_survive_a_malformed_blog(app, key, blog):
    client = app.test_client()
    for value in (blog, "https://blog.example"):
        checked = client.post(
            "/1.1/comment-check",
            data={"api_key": key, "blog": value, "user_ip": "203.0.113.5", "comment_content": "Nice post"},
        )
        assert checked.status_code == 200 and checked.get_data(as_text=True) in ("true", "false")
    month = datetime.now(UTC).strftime("%Y-%m")
    listed = client.get(f"/1.2/key-sites?api_key={key}")
    assert listed.status_code == 200
    names = {row["site"] for row in listed.get_json()[month]}
    assert "blog.example" in names and len(names) == 2
    assert client.get(f"/1.2/key-sites?api_key={key}&format=csv").status_code == 200
    stats = client.post("/1.1/get-stats", data={"api_key": key, "blog": "https://blog.example"})
    assert stats.status_code == 200 and stats.get_json()["ham"] + stats.get_json()["spam"] == 2


@pytest.mark.parametrize(
    "blog,name",
    [
        ("https://Blog.Example/", "blog.example"),
        ("blog.example", "blog.example"),
        ("http://[oops", "http://[oops"),
        ("  ", ""),
    ],
)
def test_site_name_is_total(blog, name):
    assert site_name(blog) == name

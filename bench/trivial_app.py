"""The yardstick for bench/fullstack.py: parses the same form as comment-check and answers `false`.

Nothing else: no key, no Redis, no model, no database. Whatever SpamGuard serves below this is the
cost of the work a check does on top of Flask and gunicorn.
"""

from flask import Flask, Response, request

app = Flask("trivial")


@app.post("/1.1/comment-check")
def comment_check() -> Response:
    fields = request.form
    _ = (fields.get("api_key"), fields.get("blog"), fields.get("user_ip"), fields.get("comment_content"))
    return Response("false", mimetype="text/plain")


@app.get("/healthz")
def healthz() -> Response:
    return Response("ok", mimetype="text/plain")

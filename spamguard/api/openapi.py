"""`GET /openapi.json`: an OpenAPI 3.1 description of the Akismet endpoints and the JSON API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

bp = Blueprint("openapi", __name__)

TEXT = "text/plain"
FORM = "application/x-www-form-urlencoded"


def _text_answer(description: str, bodies: list[str], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            name: {"description": text, "schema": {"type": "string"}} for name, text in (headers or {}).items()
        },
        "content": {TEXT: {"schema": {"type": "string", "enum": bodies}}},
    }


def _string_props(*names: str) -> dict[str, Any]:
    return {name: {"type": "string"} for name in names}


COMMENT_FIELDS = _string_props(
    "blog",
    "user_ip",
    "user_agent",
    "referrer",
    "permalink",
    "comment_type",
    "comment_author",
    "comment_author_email",
    "comment_author_url",
    "comment_content",
    "comment_date_gmt",
    "comment_post_modified_gmt",
    "blog_lang",
    "blog_charset",
    "user_role",
    "recheck_reason",
    "honeypot_field_name",
    "comment_parent",
    "guid",
    "reporter",
)
COMMENT_FIELDS["is_test"] = {
    "type": "string",
    "description": "1/true/yes/on = test call: answered normally, never trained on.",
}
COMMENT_FIELDS["comment_context"] = {"type": "string", "description": "Also comment_context[] and comment_context[N]."}
COMMENT_FIELDS["api_key"] = {
    "type": "string",
    "description": "Or the key as the leftmost Host label (<key>.rest.akismet.com).",
}

ERROR_HEADERS = {"X-akismet-debug-help": "Reason; sent on error answers only."}
VERDICT_HEADERS = {
    "X-akismet-guid": "32 lowercase hex characters, on every true/false answer.",
    "X-akismet-pro-tip": "`discard` for blatant spam only.",
    "X-akismet-error": "Account problem (e.g. over the limit); the comment should be held.",
    "X-akismet-alert-code": "Account alert code (e.g. 10508 over the usage limit).",
    "X-akismet-alert-msg": "Alert text for the site owner.",
    "X-akismet-recheck-after": "Seconds; on a provisional `false` (verdict unsure) when `callback` was sent: "
    "the decision is POSTed to the callback later.",
    "X-Spamguard-Score": "Spam probability, 4 decimals.",
    "X-Spamguard-Verdict": "ham | unsure | spam | discard.",
    "X-Spamguard-Reasons": "Top signals joined by `; `, non-ASCII and `%` percent-encoded (UTF-8).",
}
SCALAR = {"type": ["string", "number", "boolean", "null"]}  # unknown JSON fields are kept as extras
TOO_LARGE = {"description": "Body over the configured limit (text/plain, with X-akismet-debug-help)."}


def _akismet_post(summary: str, answer: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "post": {
            "tags": ["Akismet"],
            "summary": summary,
            "requestBody": {
                "content": {
                    FORM: {
                        "schema": {
                            "type": "object",
                            "properties": COMMENT_FIELDS,
                            "required": required,
                            "additionalProperties": True,
                        }
                    }
                }
            },
            "responses": {"200": answer, "405": {"description": "Wrong method (Allow: POST)."}, "413": TOO_LARGE},
        }
    }


def _akismet_get_post(summary: str, params: list[str], answer: dict[str, Any]) -> dict[str, Any]:
    parameters = [{"name": name, "in": "query", "schema": {"type": "string"}} for name in params]
    operation = {"tags": ["Akismet"], "summary": summary, "parameters": parameters, "responses": {"200": answer}}
    return {
        "get": operation,
        "post": {
            **operation,
            "parameters": [],
            "requestBody": {"content": {FORM: {"schema": {"type": "object", "properties": _string_props(*params)}}}},
        },
    }


def _json_answer(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": "JSON answer, or the text `invalid` for a missing/unknown key.",
        "content": {"application/json": {"schema": schema}, TEXT: {"schema": {"type": "string", "enum": ["invalid"]}}},
    }


def _json_body(schema: str | dict[str, Any]) -> dict[str, Any]:
    """`content` for a JSON body: a components/schemas name or an inline schema."""
    return {
        "application/json": {
            "schema": {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
        }
    }


JSON_ERROR = {"description": "Error", "content": _json_body("Error")}


def document() -> dict[str, Any]:
    verdict = _text_answer(
        "`true` = spam, `false` = ham; `invalid` = bad key; `Missing required field: <f>.`",
        ["true", "false", "invalid", "Missing required field: blog.", "Missing required field: user_ip."],
        {**VERDICT_HEADERS, **ERROR_HEADERS},
    )
    thanks = _text_answer(
        "Report recorded.",
        [
            "Thanks for making the web a better place.",
            "invalid",
            "Missing required field: blog.",
            "Missing required field: user_ip.",
        ],
        ERROR_HEADERS,
    )
    over_limit = _text_answer(
        "Over the key's rate limit: not recorded; retry after `Retry-After` seconds.",
        ["Rate limit exceeded"],
        ERROR_HEADERS,
    )
    paths: dict[str, Any] = {}
    for version in ("1.1", "1.2"):
        paths[f"/{version}/verify-key"] = _akismet_post(
            "Is a key valid? (`key` wins over `api_key`)",
            _text_answer("Key status.", ["valid", "invalid"], ERROR_HEADERS),
            ["key", "blog"],
        )
        paths[f"/{version}/comment-check"] = _akismet_post("Classify one comment.", verdict, ["blog", "user_ip"])
        paths[f"/{version}/submit-spam"] = _akismet_post("Report missed spam.", thanks, ["blog", "user_ip"])
        paths[f"/{version}/submit-ham"] = _akismet_post("Report a false positive.", thanks, ["blog", "user_ip"])
        for name in ("submit-spam", "submit-ham"):
            paths[f"/{version}/{name}"]["post"]["responses"]["429"] = over_limit
        paths[f"/{version}/usage-limit"] = _akismet_get_post(
            "This month's usage.", ["api_key", "extended"], _json_answer({"$ref": "#/components/schemas/UsageLimit"})
        )
        paths[f"/{version}/key-sites"] = _akismet_get_post(
            "Per-site activity for the key (JSON or CSV).",
            ["api_key", "month", "filter", "format", "order", "limit", "offset"],
            {
                **_json_answer({"type": "object", "description": "{<YYYY-MM>: [site rows], limit, offset, total}"}),
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/csv": {"schema": {"type": "string"}},
                    TEXT: {"schema": {"type": "string", "enum": ["invalid"]}},
                },
            },
        )
        connectivity = {
            "tags": ["WordPress"],
            "summary": "Connectivity test.",
            "responses": {"200": _text_answer("Always.", ["connected"])},
        }
        paths[f"/{version}/test"] = {"get": connectivity, "post": connectivity}
        for name, summary in (
            ("get-subscription", "Account status (`active`)."),
            ("get-stats", "Totals for the key."),
            ("token", "Opaque token."),
            ("deactivate", "Answered `deactivated`."),
            ("verify-wpcom-key", "Not supported: `invalid`."),
        ):
            paths[f"/{version}/{name}"] = _akismet_post(summary, {"description": "Text or JSON."}, [])
            paths[f"/{version}/{name}"]["post"]["tags"] = ["WordPress"]
    paths["/api/v1/check"] = {
        "post": {
            "tags": ["JSON API"],
            "summary": "Classify one comment (Akismet field names).",
            "security": [{"bearer": []}, {}],
            "requestBody": {"required": True, "content": _json_body("CheckRequest")},
            "responses": {
                "200": {"description": "Verdict", "content": _json_body("CheckResult")},
                **{code: JSON_ERROR for code in ("400", "401", "413", "415", "422", "429")},
            },
        }
    }
    paths["/api/v1/feedback"] = {
        "post": {
            "tags": ["JSON API"],
            "summary": "Label a comment spam or ham, by guid or by its fields.",
            "security": [{"bearer": []}, {}],
            "requestBody": {"required": True, "content": _json_body("FeedbackRequest")},
            "responses": {
                "200": {
                    "description": "Recorded",
                    "content": _json_body(
                        {
                            "type": "object",
                            "properties": {
                                "status": {"const": "recorded"},
                                "feedback_id": {"type": "integer"},
                                "label": {"type": "string"},
                                "matched_guid": {"type": ["string", "null"]},
                            },
                        }
                    ),
                },
                **{code: JSON_ERROR for code in ("400", "401", "404", "413", "415", "422", "429")},
            },
        }
    }
    paths["/api/v1/decisions"] = {
        "get": {
            "tags": ["JSON API"],
            "summary": "Moderators' (and timeout) decisions for this key's site, oldest first.",
            "security": [{"bearer": []}, {}],
            "parameters": [
                {"name": n, "in": "query", "schema": {"type": "string"}, "description": d}
                for n, d in (
                    ("since", "next_cursor of the previous page (empty = from the start)"),
                    ("limit", "page size, 1-500 (default 100)"),
                    ("api_key", "the key, if not sent as a Bearer token"),
                )
            ],
            "responses": {
                "200": {
                    "description": "One page",
                    "content": _json_body(
                        {
                            "type": "object",
                            "properties": {
                                "decisions": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "id": {"type": "string"},
                                            "guid": {"type": "string"},
                                            "result": {"enum": ["spam", "ham"]},
                                            "akismet_result": {"enum": ["true", "false"]},
                                            "source": {"enum": ["moderator", "timeout"]},
                                            "decided_at": {"type": "string"},
                                            "comment": {"type": "object"},
                                        },
                                    },
                                },
                                "next_cursor": {"type": "string"},
                                "has_more": {"type": "boolean"},
                            },
                        }
                    ),
                },
                **{code: JSON_ERROR for code in ("400", "401")},
            },
        }
    }
    json_fields: dict[str, dict[str, Any]] = {
        name: {"type": ["string", "null"]} for name in COMMENT_FIELDS
    }  # null = not sent
    json_fields["is_test"] = {"type": ["boolean", "string"]}
    json_fields["comment_context"] = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    for name in ("blog", "user_ip", "guid"):  # blank counts as missing
        json_fields[name] = {"type": "string", "pattern": r"\S"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SpamGuard",
            "version": "1",
            "description": "Akismet-compatible comment-spam filter. Akismet endpoints answer HTTP 200 with exact "
            "text bodies for every API-level outcome.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "The site's API key."}},
            "schemas": {
                "UsageLimit": {
                    "type": "object",
                    "required": ["limit", "usage", "percentage", "throttled"],
                    "properties": {
                        "limit": {"oneOf": [{"type": "integer"}, {"const": "none"}]},
                        "usage": {"type": "integer"},
                        "percentage": {"type": "string"},
                        "throttled": {"type": "boolean"},
                        "notice_level": {"type": "string"},
                        "upgrade": {"oneOf": [{"const": False}, {"type": "object"}]},
                    },
                },
                "CheckRequest": {
                    "type": "object",
                    "required": ["blog", "user_ip"],
                    "properties": json_fields,
                    "additionalProperties": SCALAR,
                },
                "FeedbackRequest": {
                    "type": "object",
                    "required": ["label"],
                    "properties": {**json_fields, "label": {"enum": ["spam", "ham"]}},
                    "additionalProperties": SCALAR,
                    # The check's guid, or the comment's fields to match it by content.
                    "anyOf": [{"required": ["guid"]}, {"required": ["blog", "user_ip"]}],
                },
                "CheckResult": {
                    "type": "object",
                    "properties": {
                        "guid": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                        "verdict": {"enum": ["ham", "unsure", "spam", "discard"]},
                        "score": {"type": "number"},
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "model_version": {"type": "string"},
                        "is_test": {"type": "boolean"},
                        "akismet": {
                            "type": "object",
                            "properties": {
                                "result": {"enum": ["true", "false"]},
                                "pro_tip": {"type": ["string", "null"]},
                            },
                        },
                        "alerts": {"type": "object"},
                    },
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {
                                    "type": "string",
                                    "description": "Stable: invalid_json, invalid_field, missing_api_key, "
                                    "invalid_api_key, missing_field, invalid_label, unknown_guid, rate_limited, "
                                    "body_too_large, unsupported_charset, "
                                    "method_not_allowed, not_found, no_model",
                                },
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())

"""gunicorn entry point for the limits end-to-end tests.

`spamguard.api.quota` is the lead's seam between the APIs and `spamguard.limits`.
Until it is wired (its functions still carry the "Lead:" placeholder docstring),
this module wires it here exactly as proposed in the limits report, so the
end-to-end tests exercise the real limits code through the real views.
"""
from flask import current_app

from spamguard.api import quota
from spamguard.app import create_app

if "Lead:" in (quota.refusal_for.__doc__ or ""):
    def refusal_for(site):
        result = current_app.extensions["spamguard.ratelimit"].check(site)
        if result.allowed:
            return None
        from spamguard.limits import refusal_details
        return quota.Refusal(**refusal_details(result))

    def count_call(site, result):
        usage = current_app.extensions["spamguard.usage"]
        usage.record_call(site, result.verdict)
        result.alerts.update(usage.alert_headers(site))

    quota.refusal_for = refusal_for
    quota.count_call = count_call

app = create_app()

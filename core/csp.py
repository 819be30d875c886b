"""The Content-Security-Policy header of every HTML page.

The pages load nothing from elsewhere and carry no inline script, inline style or `style=`
attribute (scripts and styles are static files; the QR code of the second factor is a data:
image; the dashboard's charts are inline SVG drawn with presentation attributes), so one strict
policy fits them all: a script injected into a page through some unescaped text would not run,
and the pages cannot be framed nor post forms elsewhere.

A small middleware rather than django-csp: one fixed policy, no nonce, no per-view variation,
nothing a dependency would add. `CONTENT_SECURITY_POLICY` (settings) is the policy; empty turns
the header off. A response that already has the header keeps it. With DEBUG on, Django's
technical 404 and 500 pages (inline styles and scripts) are left without it.
"""

from __future__ import annotations

from django.conf import settings

HEADER = "Content-Security-Policy"
DEFAULT_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def policy() -> str:
    return getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_POLICY)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        value = policy()
        if not value or response.has_header(HEADER):
            return response
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        if settings.DEBUG and response.status_code in (404, 500):
            return response  # Django's technical pages
        response[HEADER] = value
        return response

"""One invitee of the gunicorn race, run in its own spawned process. Standard library only: each of
the twenty processes imports this module afresh, and importing the app stack would cost each a second."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(url: str, data: dict, opener=None) -> int:
    """POST the form; the HTTP status (a redirect is not followed)."""
    opener = opener or urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, urllib.parse.urlencode(data).encode(), timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def book(base, token, data, barrier, results):
    """Open the page (cookie + CSRF token), wait for the others, then book."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    with opener.open(f"{base}/book/{token}", timeout=60) as response:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode())[1]
    barrier.wait()
    results.put(post(f"{base}/book/{token}", {**data, "csrf_token": csrf}, opener))

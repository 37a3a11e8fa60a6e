"""Who may use the dashboard: a token (in the URL once, as Jupyter does, then an HttpOnly
cookie), a Host header naming this server (DNS rebinding), and for every POST a CSRF
token (double-submit cookie + header), a same-origin `Origin`, and a JSON body."""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse

CSRF_HEADER = "x-csrf-token"


def cookie_names(host_header: str) -> tuple[str, str]:
    """Cookies ignore ports: named per port, so another app on 127.0.0.1 never receives
    this server's token and two dashboards on two ports do not overwrite each other's."""
    port = host_header.rsplit(":", 1)[1] if ":" in host_header and not host_header.endswith("]") else "80"
    port = "".join(c for c in port if c.isdigit()) or "80"
    return f"lf_token_{port}", f"lf_csrf_{port}"


LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def token_file() -> Path:
    return Path(os.path.expanduser("~/.localforge/ui-token"))


def load_or_make_token() -> str:
    """The dashboard's token, kept in ~/.localforge/ui-token (mode 0600) across restarts."""
    path = token_file()
    try:
        text = path.read_text().strip()
        if text and stat.S_IMODE(path.stat().st_mode) & 0o077 == 0:
            return text
    except OSError:
        pass
    from localforge._secret import write_new

    return write_new(path)


def _framed_nowhere(send):
    """`send`, adding to every response the headers that keep it out of another page's
    frame (clickjacking: a page on another port of 127.0.0.1 shares the cookie) and stop
    type sniffing. A response with a policy of its own keeps it, with `frame-ancestors
    'none'` added when it lacks one."""

    async def sending(message):
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"x-frame-options", b"x-content-type-options")]
            csp = [i for i, (k, _) in enumerate(headers) if k.lower() == b"content-security-policy"]
            for i in csp:
                if b"frame-ancestors" not in headers[i][1]:
                    headers[i] = (headers[i][0], headers[i][1] + b"; frame-ancestors 'none'")
            if not csp:
                headers.append((b"content-security-policy", b"frame-ancestors 'none'"))
            headers += [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff")]
            message = {**message, "headers": headers}
        await send(message)

    return sending


class Guard:
    """ASGI middleware doing every check before a route sees the request."""

    def __init__(self, app, token: str, allow_remote: bool = False):
        self.app, self.token, self.allow_remote = app, token, allow_remote

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.requests import Request

        send = _framed_nowhere(send)
        request = Request(scope)
        refused = self.check(request)
        if refused is not None:
            return await refused(scope, receive, send)
        return await self.app(scope, receive, send)

    def _same(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def check(self, request):
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if not self.allow_remote and host not in LOOPBACK:
            return PlainTextResponse(f"Host `{host}` is not this server", status_code=421)
        path = request.url.path
        token_cookie, csrf_cookie = cookie_names(request.headers.get("host") or "")
        if path.startswith("/static/"):
            return None  # the page's own JS and CSS: nothing secret
        given = request.query_params.get("token")
        if given is not None and request.method == "GET":
            if not self._same(given):
                return PlainTextResponse("wrong token", status_code=403)
            # Trade the token in the URL for cookies, and drop it from the address bar.
            rest = {k: v for k, v in request.query_params.items() if k != "token"}
            response = RedirectResponse(path + (f"?{urlencode(rest)}" if rest else ""), status_code=303)
            response.set_cookie(token_cookie, self.token, httponly=True, samesite="strict", path="/")
            response.set_cookie(csrf_cookie, secrets.token_urlsafe(24), httponly=False, samesite="strict", path="/")
            return response
        bearer = request.headers.get("authorization", "")
        authed = self._same(request.cookies.get(token_cookie, "")) or (bearer.startswith("Bearer ") and self._same(bearer[7:]))
        if not authed:
            if path.startswith("/api/") or request.method != "GET":
                return JSONResponse({"error": "no token: open the address `localforge ui` printed (it carries the token)"}, status_code=403)
            return PlainTextResponse(
                "LocalForge: open the address `localforge ui` printed; it carries the token (also in ~/.localforge/ui-token).",
                status_code=403,
            )
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            if origin is not None:
                o = urlsplit(origin)
                if o.netloc != request.headers.get("host"):
                    return JSONResponse({"error": f"cross-origin request from {origin} refused"}, status_code=403)
            csrf = request.headers.get(CSRF_HEADER, "")
            cookie = request.cookies.get(csrf_cookie, "")
            via_bearer = bearer.startswith("Bearer ") and self._same(bearer[7:])
            if not via_bearer and not (csrf and cookie and hmac.compare_digest(csrf, cookie)):
                return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
            if "application/json" not in request.headers.get("content-type", ""):
                return JSONResponse({"error": "actions take a JSON body"}, status_code=415)
        return None

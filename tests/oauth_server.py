"""A local OAuth 2.0 authorization server with a protected contacts API, for tests/test_oauth.py.

Our own small implementation (wiring authlib's generic `AuthorizationServer` to storage and a
WSGI framework would have been more code than the protocol itself), faithful to the parts of
RFC 6749 and RFC 7636 the connector uses:

- `GET /authorize` (RFC 6749 §4.1.1): checks `response_type=code`, the client id, the registered
  `redirect_uri` and a PKCE S256 challenge (required), then consents automatically (the test user)
  and redirects to `redirect_uri?code=...&state=...` (§4.1.2). Errors without a usable redirect
  URI answer 400.
- `POST /token` (§4.1.3, §6): HTTP Basic client authentication (§2.3.1); `authorization_code`
  checks the code (one use), `redirect_uri` and `code_verifier` (RFC 7636 §4.6);
  `refresh_token` rotates the refresh token: the old one is rejected afterwards with
  `invalid_grant` (§10.4); `client_credentials` (§4.4) issues no refresh token; `password`
  (§4.3.2) checks the resource owner's `username`/`password` (`invalid_grant` when wrong) and
  issues a refresh token. Errors are JSON `{"error": ...}` with 400/401 (§5.2).
- `GET /api/contacts` (RFC 6750): a JSON list for a valid, unexpired bearer token; 401 otherwise.

`fail_token_requests = n` makes the next n token requests answer 503; `revoke(refresh_token)`
revokes a refresh token. Binds 127.0.0.1 port 0 and runs in a thread (`OAuthServer.start`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

CLIENT_ID = "cti-app"
CLIENT_SECRET = "s3cret-client"
# The resource owner of the password grant.
USERNAME = "ada"
USER_PASSWORD = "analytical-engine"

CONTACTS = [
    {"id": 1, "name": "Ada Lovelace", "phone": "+31 20 555 0101"},
    {"id": 2, "name": "Alan Turing", "phone": "+31 20 555 0102"},
]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class OAuthServer:
    """The server's state; `url` is its base URL once started."""

    redirect_uri: str = "http://testserver/integrations/oauth/callback/"
    expires_in: int = 3600
    fail_token_requests: int = 0
    # Hand back the API host in the token answer, as Salesforce's `instance_url` does.
    hand_back_instance_url: bool = False
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    access_tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    api_tokens_seen: list[str] = field(default_factory=list)
    url: str = ""
    _server: WSGIServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> OAuthServer:
        """Listen on 127.0.0.1, port 0, in a daemon thread."""
        self._server = make_server("127.0.0.1", 0, self.app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (the user withdrew the app's access)."""
        with self._lock:
            self.refresh_tokens.discard(refresh_token)

    # --- WSGI

    def app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/authorize" and environ["REQUEST_METHOD"] == "GET":
            status, headers, body = self._authorize(parse_qs(environ.get("QUERY_STRING", "")))
        elif path == "/token" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(length).decode())
            status, headers, body = self._token(form, environ.get("HTTP_AUTHORIZATION", ""))
        elif path == "/api/contacts":
            status, headers, body = self._contacts(environ.get("HTTP_AUTHORIZATION", ""))
        else:
            status, headers, body = "404 Not Found", [], b""
        start_response(status, headers)
        return [body]

    @staticmethod
    def _json(status: str, document: Any) -> tuple[str, list[tuple[str, str]], bytes]:
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        return status, headers, json.dumps(document).encode()

    def _authorize(self, query: dict[str, list[str]]) -> tuple[str, list[tuple[str, str]], bytes]:
        one = {k: v[0] for k, v in query.items()}
        if one.get("client_id") != CLIENT_ID or one.get("redirect_uri") != self.redirect_uri:
            return "400 Bad Request", [("Content-Type", "text/plain")], b"unknown client or redirect_uri"
        problem = ""
        if one.get("response_type") != "code":
            problem = "unsupported_response_type"
        elif one.get("code_challenge_method") != "S256" or not one.get("code_challenge"):
            problem = "invalid_request"
        params = {"state": one.get("state", "")}
        if problem:
            params["error"] = problem
        else:
            code = secrets.token_urlsafe(16)
            with self._lock:
                self.codes[code] = {"challenge": one["code_challenge"], "redirect_uri": one["redirect_uri"]}
            params["code"] = code
        return "302 Found", [("Location", f"{self.redirect_uri}?{urlencode(params)}")], b""

    def _issue(self, *, refresh: bool = True) -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        self.access_tokens[access] = time.time() + self.expires_in
        token: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        if refresh:
            token["refresh_token"] = secrets.token_urlsafe(24)
            self.refresh_tokens.add(token["refresh_token"])
        if self.hand_back_instance_url:
            token["instance_url"] = self.url
        return token

    def _token(
        self, form: dict[str, list[str]], authorization: str
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        one = {k: v[0] for k, v in form.items()}
        with self._lock:
            self.token_requests.append(one)
            if self.fail_token_requests > 0:
                self.fail_token_requests -= 1
                return "503 Service Unavailable", [("Content-Type", "text/plain")], b"down for maintenance"
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if authorization != expected:
                return self._json("401 Unauthorized", {"error": "invalid_client"})
            grant = one.get("grant_type")
            if grant == "authorization_code":
                entry = self.codes.pop(one.get("code", ""), None)
                verifier = one.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if entry is None or entry["redirect_uri"] != one.get("redirect_uri"):
                    return self._json("400 Bad Request", {"error": "invalid_grant"})
                if challenge != entry["challenge"]:
                    return self._json(
                        "400 Bad Request", {"error": "invalid_grant", "error_description": "PKCE"}
                    )
                return self._json("200 OK", self._issue())
            if grant == "refresh_token":
                refresh = one.get("refresh_token", "")
                if refresh not in self.refresh_tokens:
                    return self._json("400 Bad Request", {"error": "invalid_grant"})
                self.refresh_tokens.discard(refresh)  # rotation: a reused refresh token is refused
                return self._json("200 OK", self._issue())
            if grant == "client_credentials":
                # RFC 6749 §4.4.3: a refresh token SHOULD NOT be included.
                return self._json("200 OK", self._issue(refresh=False))
            if grant == "password":
                if (one.get("username"), one.get("password")) != (USERNAME, USER_PASSWORD):
                    return self._json(
                        "400 Bad Request",
                        {
                            "error": "invalid_grant",
                            "error_description": "Invalid username and password combination",
                        },
                    )
                return self._json("200 OK", self._issue())
            return self._json("400 Bad Request", {"error": "unsupported_grant_type"})

    def _contacts(self, authorization: str) -> tuple[str, list[tuple[str, str]], bytes]:
        token = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            self.api_tokens_seen.append(token)
            expires = self.access_tokens.get(token)
        if expires is None or expires <= time.time():
            return self._json("401 Unauthorized", {"error": "invalid_token"})
        return self._json("200 OK", CONTACTS)

"""Signs Schemathesis's requests with tambah's HMAC v1 scheme (docs/api.md,
Authentication), exactly as they leave: the method, the decoded query sorted
by key, and the SHA-256 of the body bytes. Loaded with SCHEMATHESIS_HOOKS.

Only a request that carries our API key (TAMBAH_API_KEY) is signed, so the
checks that strip or replace credentials still see what an unsigned or
foreign caller sees.
"""

import base64
import hashlib
import hmac
import os
import secrets
import time
import urllib.parse

import requests

KEY = os.environ.get("TAMBAH_API_KEY", "")
SECRET = os.environ.get("TAMBAH_API_SECRET", "")

_send = requests.Session.send


def canonical(method: str, url: str, body: bytes, timestamp: str, nonce: str) -> str:
    query = urllib.parse.urlsplit(url).query
    pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    sorted_query = "&".join(f"{k}={v}" for k, v in pairs)
    body_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return f"v1:{timestamp}:{nonce}:{method.upper()}:{sorted_query}:{body_hash}"


def signed_send(self, request, **kwargs):
    if KEY and request.headers.get("X-Api-Key") == KEY:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        message = canonical(request.method, request.url, body, timestamp, nonce)
        digest = hmac.new(base64.b64decode(SECRET), message.encode(), hashlib.sha256).digest()
        request.headers["X-Timestamp"] = timestamp
        request.headers["X-Nonce"] = nonce
        request.headers["X-Signature"] = "v1=" + base64.b64encode(digest).decode()
    return _send(self, request, **kwargs)


requests.Session.send = signed_send

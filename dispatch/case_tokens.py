"""Case tokens let an anonymous reporter follow one case;
derived by HMAC, so nothing to store or leak."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid


def issue_case_token(case_id: uuid.UUID, *, secret: str) -> str:
    """The token for ``case_id``; the same on every call, so an idempotent retry gets it again."""
    digest = hmac.new(secret.encode(), b"case-token:" + case_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify_case_token(case_id: uuid.UUID, token: str, *, secret: str) -> bool:
    """Constant-time check that ``token`` was issued for exactly this case."""
    return hmac.compare_digest(issue_case_token(case_id, secret=secret), token)

"""API token keys: generation and the digest under which they are stored."""

import hashlib
import secrets

KEY_PREFIX = "trk_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()

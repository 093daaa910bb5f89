"""Identifiers AWS puts in events that a local account has no real value for: stable per account,
random per event, in AWS's alphabets and lengths, so code that parses them keeps working."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

_UPPER_ALNUM = string.ascii_uppercase + string.digits


def _stable(seed: str, alphabet: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(alphabet[byte % len(alphabet)] for byte in digest[:length])


def requester_principal(account_id: str) -> str:
    """userIdentity.principalId of the account's user: AWS:AIDA followed by 17 characters."""
    return "AWS:AIDA" + _stable(f"user:{account_id}", _UPPER_ALNUM, 17)


def owner_principal(account_id: str) -> str:
    """A bucket owner's principalId: 'A' followed by 13 characters."""
    return "A" + _stable(f"owner:{account_id}", _UPPER_ALNUM, 13)


def request_id() -> str:
    """S3's x-amz-request-id: 16 upper-case hex digits."""
    return secrets.token_hex(8).upper()


def host_id() -> str:
    """S3's x-amz-id-2: about 76 base64 characters."""
    return base64.b64encode(secrets.token_bytes(57)).decode()


def signature() -> str:
    """An SNS signature's shape: base64 of a 2048-bit RSA signature (not a real one)."""
    return base64.b64encode(secrets.token_bytes(256)).decode()

"""The ``sub`` of a code token: the taxpayer's USCC sealed, so that only this service reads it.

DOMAIN.md §1: a bank clerk never sees a full identifier, and a JWS payload is only base64 —
every bank scanner, app and log a scanned code passes through could read a plain ``sub``. A
code's subject is the USCC encrypted with AES-SIV (RFC 5297, authenticated encryption) under a
512-bit key derived (HKDF-SHA256) from the app secret, with the code's own ``jti`` as
associated data: each code of a taxpayer carries another subject (no bank can link a
taxpayer's visits to other banks by it, DOMAIN.md §4) and costs no more bytes than the
ciphertext itself, 46 characters. A subject opens only with the ``jti`` it was sealed with and
only here; a changed, moved or foreign one does not. An offline verifier with the JWKS still
checks signature, color, grade and expiry; who the taxpayer is, it learns from us (the online
verification shows the masked USCC and name).
"""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Longer than any sealed USCC (16-byte tag + 18 bytes, unpadded base64url: 46 characters).
MAX_SUBJECT = 64


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SubjectSeal:
    """Seals a USCC into one code's ``sub`` and opens it again."""

    def __init__(self, secret: str):
        key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None,
                   info=b"shuima code subjects").derive(secret.encode())
        self._cipher = AESSIV(key)

    def seal(self, uscc: str, *, jti: str) -> str:
        """The ``sub`` claim of the code ``jti`` of ``uscc``: opaque without the app secret, new for every code."""
        return _b64url(self._cipher.encrypt(uscc.encode(), [jti.encode()]))

    def open(self, subject: object, *, jti: object) -> str | None:
        """The USCC that ``seal`` put in ``subject`` for ``jti``; None for anything else
        (plain, altered, of another code, sealed elsewhere, not strings)."""
        if not isinstance(subject, str) or not isinstance(jti, str) or len(subject) > MAX_SUBJECT:
            return None
        try:
            sealed = base64.urlsafe_b64decode(subject + "=" * (-len(subject) % 4))
            if _b64url(sealed) != subject:  # one spelling only: no stray characters or padding bits
                return None
            return self._cipher.decrypt(sealed, [jti.encode()]).decode()
        except (InvalidTag, ValueError):  # ValueError: bad base64 (binascii.Error), too short, not UTF-8
            return None

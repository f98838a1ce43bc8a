"""A code's subject: the USCC sealed for one code, readable only by the service that sealed it."""

from __future__ import annotations

import base64
import string

from app.codes.subjects import SubjectSeal

USCC = "91330200MA2AAAAA1X"
ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def test_a_subject_opens_with_the_code_it_was_sealed_for_and_nothing_else():
    seal = SubjectSeal("secret one")
    subject = seal.seal(USCC, jti="code-1")
    assert seal.open(subject, jti="code-1") == USCC and len(subject) == 46  # 16-byte tag + 18 bytes, base64url
    assert SubjectSeal("secret one").open(subject, jti="code-1") == USCC  # every process of the deployment
    assert SubjectSeal("secret two").open(subject, jti="code-1") is None  # another deployment
    assert seal.open(subject, jti="code-2") is None  # moved into another code
    assert seal.open(subject, jti=None) is None


def test_every_code_of_a_taxpayer_carries_another_subject():
    seal = SubjectSeal("secret one")
    subjects = [seal.seal(USCC, jti=f"code-{n}") for n in range(20)]
    assert len(set(subjects)) == 20  # no bank links a taxpayer's visits by it (DOMAIN.md §4)
    assert [seal.open(s, jti=f"code-{n}") for n, s in enumerate(subjects)] == [USCC] * 20


def test_an_altered_or_respelled_subject_does_not_open():
    seal = SubjectSeal("secret one")
    subject = seal.seal(USCC, jti="code-1")
    altered = subject[:10] + ("A" if subject[10] != "A" else "B") + subject[11:]
    # The last of 46 characters carries 2 bits of data and 4 of padding: flipping a padding bit
    # spells the same bytes differently.
    respelled = subject[:-1] + ALPHABET[ALPHABET.index(subject[-1]) ^ 1]
    assert base64.urlsafe_b64decode(respelled + "==") == base64.urlsafe_b64decode(subject + "==")
    for other in (USCC, altered, respelled, subject + "=", subject[:-2], "", "é" * 46, "x" * 200, None, 42):
        assert seal.open(other, jti="code-1") is None, other

"""Badge renderer: QR content, frame color, quiet zone, labels, font fallback."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
from datetime import datetime, timedelta, timezone

import pytest
import zxingcpp
from PIL import Image

from app.codes import badge
from app.codes.badge import render_badge, render_badge_naive

ISSUED_AT = datetime(2025, 3, 1, 16, 30, 5, tzinfo=timezone.utc)
STATE_FOR_COLOR = {"grey": "unrated", "slate": "suspended", "red": "blacklisted"}
GRADE_FOR_COLOR = {"gold": "A", "silver": "B", "green": "M", "blue": "C", "red": "D", "grey": None, "slate": None}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def jws_token() -> str:
    """A code token of the shape the service issues: EdDSA, a kid thumbprint, a sealed subject, ≈450 chars."""
    from app.codes.domain import code_claims
    from app.codes.subjects import SubjectSeal
    from app.taxpayers.domain import GradeStatus, Grade, State

    status = GradeStatus("91110108MA01ABCD2X", "北京某某科技有限公司", Grade.A, State.NORMAL, 2024, ISSUED_AT)
    jti = "3q2-7u_vb2X9mQwA"  # secrets.token_urlsafe(12) is 16 characters
    claims = code_claims(status, subject=SubjectSeal("badge test").seal(status.uscc, jti=jti),
                         issuer="https://shuima.example.cn", now=ISSUED_AT, ttl=timedelta(seconds=60), jti=jti)
    header = {"alg": "EdDSA", "kid": _b64url(hashlib.sha256(b"a public key").digest()), "typ": "JWT"}
    signature = hashlib.sha512(b"not a real key").digest()  # 64 bytes, like Ed25519
    token = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    token += "." + _b64url(signature)
    assert 420 <= len(token) <= 480 and token.count(".") == 2
    return token


def _render(token: str, color: str = "gold", renderer=render_badge, **overrides) -> bytes:
    args = dict(token=token, grade=GRADE_FOR_COLOR[color], color=color,
                state=STATE_FOR_COLOR.get(color, "normal"), masked_name="北京**科技有限公司",
                issued_at=ISSUED_AT)
    return renderer(**{**args, **overrides})


def _open(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png))


def _decoded(png: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(_open(png))]


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture
def latin_only():
    """Force the no-CJK-font mode through the public hook, then restore auto-detection."""
    badge.configure_font(cjk=False)
    yield
    badge.configure_font()


def test_badge_is_a_png(jws_token: str) -> None:
    png = _render(jws_token)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _open(png).format == "PNG"


@pytest.mark.parametrize("color", list(badge.PALETTE))
def test_badge_qr_decodes_to_exact_token(jws_token: str, color: str) -> None:
    assert _decoded(_render(jws_token, color)) == [jws_token]


def test_badge_qr_decodes_short_token_too() -> None:
    assert _decoded(_render("eyJhbGciOiJFUzI1NiJ9.e30.sig")) == ["eyJhbGciOiJFUzI1NiJ9.e30.sig"]


@pytest.mark.parametrize("color", list(badge.PALETTE))
def test_naive_badge_qr_decodes_to_exact_token(jws_token: str, color: str) -> None:
    assert _decoded(_render(jws_token, color, render_badge_naive)) == [jws_token]


@pytest.mark.parametrize("renderer", [render_badge, render_badge_naive])
@pytest.mark.parametrize("color", list(badge.PALETTE))
def test_frame_is_painted_in_palette_color(jws_token: str, color: str, renderer) -> None:
    img = _open(_render(jws_token, color, renderer)).convert("RGB")
    mid = badge.FRAME // 2
    expected = _rgb(badge.PALETTE[color])
    for point in [(mid, mid), (img.width - mid, img.height // 2), (img.width // 2, img.height - mid)]:
        assert img.getpixel(point) == expected, point


@pytest.mark.parametrize("renderer", [render_badge, render_badge_naive])
def test_quiet_zone_of_four_modules_around_qr_is_white(jws_token: str, renderer) -> None:
    png = _render(jws_token, "slate", renderer)  # dark frame: would show up in the quiet zone
    img = _open(png).convert("RGB")
    corners = zxingcpp.read_barcodes(_open(png))[0].position
    # exact symbol box: dark pixels inside the card, above the text (which starts well below the QR)
    card = img.crop((badge.FRAME, badge.FRAME, img.width - badge.FRAME, corners.bottom_left.y + 10))
    left, top, right, bottom = card.convert("L").point(lambda v: 255 if v < 128 else 0).getbbox()
    left, top, right, bottom = left + badge.FRAME, top + badge.FRAME, right + badge.FRAME, bottom + badge.FRAME
    module = 0  # the finder pattern's top edge is 7 dark modules wide
    while img.getpixel((left + module, top)) == (0, 0, 0):
        module += 1
    module //= 7
    assert 4 <= module <= 6
    quiet = 4 * module
    bands = [(left - quiet, top - quiet, right + quiet, top), (left - quiet, bottom, right + quiet, bottom + quiet),
             (left - quiet, top, left, bottom), (right, top, right + quiet, bottom)]
    for band in bands:
        assert img.crop(band).getcolors() == [((band[2] - band[0]) * (band[3] - band[1]), (255, 255, 255))], band


def test_realistic_badge_is_400_to_600_px_wide(jws_token: str) -> None:
    assert 400 <= _open(_render(jws_token)).width <= 600


def test_state_label_adds_a_line_unless_normal(jws_token: str) -> None:
    normal = _open(_render(jws_token, "red", state="normal")).height
    blacklisted = _open(_render(jws_token, "red", state="blacklisted")).height
    assert blacklisted == normal + badge.SIZES["state"][1]


def test_issue_time_depends_on_the_instant_not_on_the_given_timezone(jws_token: str) -> None:
    shanghai_view = ISSUED_AT.astimezone(timezone(timedelta(hours=8)))
    assert _render(jws_token, issued_at=shanghai_view) == _render(jws_token)
    assert _render(jws_token, issued_at=ISSUED_AT + timedelta(seconds=1)) != _render(jws_token)


def test_naive_issue_time_is_rejected(jws_token: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _render(jws_token, issued_at=ISSUED_AT.replace(tzinfo=None))


@pytest.mark.parametrize("overrides", [{"color": "purple"}, {"state": "frozen"}, {"grade": "E"},
                                       {"color": "gold", "state": "blacklisted"}])
def test_unknown_or_inconsistent_inputs_are_rejected(jws_token: str, overrides: dict) -> None:
    args = {"grade": "D", "color": "red", "state": "blacklisted", **overrides}
    with pytest.raises(ValueError):
        render_badge(token=jws_token, masked_name="x", issued_at=ISSUED_AT, **args)


def test_cjk_font_is_found_when_a_known_package_is_installed() -> None:
    if not any(os.path.exists(path) for path in badge.CJK_FONT_CANDIDATES):
        pytest.skip("no CJK font package installed (CI installs fonts-wqy-microhei)")
    assert badge.has_cjk_font()


def test_configuring_a_font_without_cjk_glyphs_is_rejected(tmp_path) -> None:
    with pytest.raises(ValueError):
        badge.configure_font(str(tmp_path / "missing.ttf"))


def test_without_cjk_font_badge_uses_latin_labels_and_warns_once(latin_only, caplog, jws_token: str) -> None:
    caplog.set_level(logging.WARNING, logger=badge.__name__)
    first = _render(jws_token, "slate")
    second = _render(jws_token, "red")
    assert not badge.has_cjk_font()
    warnings = [r for r in caplog.records if r.name == badge.__name__ and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "CJK" in warnings[0].getMessage()
    assert _decoded(first) == [jws_token] and _decoded(second) == [jws_token]

"""Badge renderer: a taxpayer's credit grade as a QR code in a colored frame (PNG).

Pure module (no Flask/Redis/DB).  ``render_badge`` is the fast path: the QR is
encoded by zxing-cpp (compiled; ~0.1 ms with a fixed mask against ~4 ms for
segno's pure-Python encoder, which was 70 % of a render), its module bitmap is
pasted straight into a cached static layer (frame, card, grade and color labels),
only the per-code text is drawn, and the PNG is paletted with fast compression:
≈1.3 ms a badge.  ``render_badge_naive`` draws the same layout from scratch with
segno and is the baseline the benchmark compares against (``loadtests/bench.py``).
Chinese labels need a CJK font (auto-detected, or set with ``configure_font``);
without one, Latin labels are used and one warning is logged per configuration.
"""

from __future__ import annotations

import io
import logging
import subprocess
import threading
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import segno
import zxingcpp
from PIL import Image, ImageColor, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]

PALETTE: dict[str, str] = {
    "gold": "#C9A227", "silver": "#9AA3AE", "green": "#2E9B4F", "blue": "#2F6FD6",
    "red": "#D93A3A", "grey": "#9E9E9E", "slate": "#5B6770",
}
COLOR_LABELS_ZH = {"gold": "金色码", "silver": "银色码", "green": "绿色码", "blue": "蓝色码",
                   "red": "红色码", "grey": "灰色码", "slate": "本期不评"}
COLOR_LABELS_EN = {"gold": "GOLD", "silver": "SILVER", "green": "GREEN", "blue": "BLUE",
                   "red": "RED", "grey": "GREY", "slate": "SLATE"}
STATE_LABELS_ZH = {"unrated": "未评价", "suspended": "本期不评价", "blacklisted": "重大税收违法失信主体"}
STATE_LABELS_EN = {"unrated": "Not rated", "suspended": "Suspended", "blacklisted": "Blacklisted"}
STATES = frozenset({"normal", *STATE_LABELS_ZH})
GRADES = frozenset({"A", "B", "M", "C", "D"})

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUIET = 4             # quiet zone, in modules (the QR spec minimum)
FRAME = 40            # colored frame width, px
PAD = 12              # bottom/side padding of the text panel, px
QR_TARGET_PX = 480    # aim for this QR width (quiet zone included): 4-6 px/module
MIN_CARD_PX = 400     # white card at least this wide, so small QRs still fit the text
MASK = 0              # fixed mask: spares the encoder scoring all 8 masks (7/8 of its time)
INK: RGB = (31, 35, 40)
ALERT: RGB = (179, 38, 30)
# role -> (font size, line height), in drawing order
SIZES = {"grade": (84, 96), "color": (32, 44), "state": (26, 38), "name": (24, 34), "time": (20, 30)}
DYNAMIC_H = SIZES["name"][1] + SIZES["time"][1]

CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)

_lock = threading.Lock()
_override_path: str | None = None
_cjk_enabled = True


def configure_font(path: str | None = None, *, cjk: bool = True) -> None:
    """Pick the font: ``path`` overrides auto-detection, ``cjk=False`` forces the
    Latin fallback, no arguments restores auto-detection.  Clears the caches, so
    the fallback warning is logged again (once) under the new configuration.
    Raises ValueError if ``path`` is unreadable or has no CJK glyphs."""
    global _override_path, _cjk_enabled
    if path is not None and cjk and _usable_face(path) is None:
        raise ValueError(f"font {path!r} is unreadable or has no CJK glyphs")
    with _lock:
        _override_path, _cjk_enabled = path, cjk
        for cached in (_resolve_font, font, _template):
            cached.cache_clear()


def has_cjk_font() -> bool:
    """True when badges are rendered with Chinese labels."""
    return _font_source() is not None


def _renders_cjk(font: ImageFont.FreeTypeFont) -> bool:
    """Missing glyphs all render as the same .notdef box; real ones differ."""
    def bitmap(ch: str) -> bytes:
        img = Image.new("L", (32, 32))
        ImageDraw.Draw(img).text((2, 2), ch, font=font, fill=255)
        return img.tobytes()
    a, b = bitmap("税"), bitmap("码")
    return a != b and any(a) and any(b)


def _usable_face(path: str, index: int | None = None) -> tuple[str, int] | None:
    """(path, face index) of a CJK-capable face in ``path``; in collections prefer
    the Simplified Chinese face (Noto's .ttc lists the Japanese one first)."""
    collection = path.lower().endswith((".ttc", ".otc"))
    found: list[tuple[int, str]] = []
    for i in [index] if index is not None else range(10 if collection else 1):
        try:
            face = ImageFont.truetype(path, 24, index=i)
        except OSError:
            break
        if _renders_cjk(face):
            found.append((i, " ".join(filter(None, face.getname()))))
    if not found:
        return None
    return path, next((i for i, name in found if " SC" in name), found[0][0])


def _fc_match() -> tuple[str, int] | None:
    """Ask fontconfig for a zh-CN sans font; None if fc-match is missing or fails."""
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}|%{index}", "sans:lang=zh-cn"],
                             capture_output=True, text=True, timeout=5, check=False).stdout
        path, _, index = out.strip().partition("|")
        return _usable_face(path, int(index or 0)) if path else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


@lru_cache(maxsize=1)
def _resolve_font() -> tuple[str, int] | None:
    """Find the CJK font once per configuration; warn if there is none."""
    if not _cjk_enabled:
        source = None
    elif _override_path is not None:
        source = _usable_face(_override_path)
    else:
        source = next(filter(None, map(_usable_face, CJK_FONT_CANDIDATES)), None) or _fc_match()
    if source is None:
        logger.warning("No CJK font available (install fonts-wqy-microhei): badges use Latin labels")
    return source


def _font_source() -> tuple[str, int] | None:
    with _lock:  # concurrent first calls must not resolve (and warn) twice
        return _resolve_font()


def _rgb(color: str) -> RGB:
    return ImageColor.getrgb(PALETTE[color])[:3]  # type: ignore[return-value]


def _load_font(size: int) -> Font:
    """Load the active font at ``size`` from disk (uncached)."""
    source = _font_source()
    if source is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(source[0], size, index=source[1])


#: The active font at a size, cached; the county chart (``app.rural.chart``) draws with it too.
font = lru_cache(maxsize=32)(_load_font)


def _draw_centered(draw: ImageDraw.ImageDraw, x0: int, x1: int, y: int, role: str, text: str,
                   fill: RGB, font: Callable[[int], Font]) -> int:
    """Draw one line centered in [x0, x1], shrunk (then truncated) to fit; return the next y."""
    size, line_h = SIZES[role]
    avail = x1 - x0 - 2 * PAD
    f = font(size)
    width = draw.textlength(text, font=f)
    while width > avail and size > 14:
        size -= 2
        f = font(size)
        width = draw.textlength(text, font=f)
    while width > avail and len(text) > 1:
        text = text[:-2] + "…"
        width = draw.textlength(text, font=f)
    draw.text((x0 + (x1 - x0 - width) / 2, y + (line_h - size) // 2), text, font=f, fill=fill)
    return y + line_h


def _build_template(color: str, grade: str | None, state: str, qr_px: int,
                    font: Callable[[int], Font]) -> Image.Image:
    """RGB frame, white card (QR area included) and the grade/color/state labels."""
    cjk = has_cjk_font()
    lines = [("grade", grade or "—", INK), ("color", (COLOR_LABELS_ZH if cjk else COLOR_LABELS_EN)[color], INK)]
    if state != "normal":
        label = (STATE_LABELS_ZH if cjk else STATE_LABELS_EN)[state]
        lines.append(("state", label, ALERT if state == "blacklisted" else INK))
    width = max(qr_px, MIN_CARD_PX) + 2 * FRAME
    card_bottom = FRAME + qr_px + sum(SIZES[role][1] for role, _, _ in lines) + DYNAMIC_H + PAD
    img = Image.new("RGB", (width, card_bottom + FRAME), _rgb(color))
    img.paste((255, 255, 255), (FRAME, FRAME, width - FRAME, card_bottom))
    draw = ImageDraw.Draw(img)
    y = FRAME + qr_px
    for role, text, fill in lines:
        y = _draw_centered(draw, FRAME, width - FRAME, y, role, text, fill, font)
    return img


def _draw_dynamic(img: Image.Image, x0: int, x1: int, y: int, masked_name: str, when: str,
                  font: Callable[[int], Font]) -> None:
    """Draw the per-code lines (masked name, issue time) from ``y`` down."""
    draw = ImageDraw.Draw(img)
    y = _draw_centered(draw, x0, x1, y, "name", masked_name, INK, font)
    _draw_centered(draw, x0, x1, y, "time", when, INK, font)


@lru_cache(maxsize=1)
def _palette() -> Image.Image:
    """White (index 0), black (1), frame colors, 15-step white→INK and white→ALERT
    ramps for antialiased text.  Paletted PNGs encode ~4x faster than RGB."""
    colors = [(255, 255, 255), (0, 0, 0), *map(_rgb, PALETTE)]
    for base in (INK, ALERT):
        colors += [tuple(255 + (c - 255) * k // 15 for c in base) for k in range(1, 16)]
    pal = Image.new("P", (1, 1))
    pal.putpalette([v for rgb in colors for v in rgb])
    return pal


def _to_p(img: Image.Image) -> Image.Image:
    return img.quantize(palette=_palette(), dither=Image.Dither.NONE)


@lru_cache(maxsize=256)
def _template(color: str, grade: str | None, state: str, qr_px: int) -> Image.Image:
    """Paletted static layer, cached per (color, grade, state, QR size)."""
    return _to_p(_build_template(color, grade, state, qr_px, font))


def _check(grade: str | None, color: str, state: str, issued_at: datetime) -> str:
    """Validate the inputs; return the issue time as Asia/Shanghai text."""
    if color not in PALETTE or state not in STATES or (grade is not None and grade not in GRADES):
        raise ValueError(f"bad badge input: grade={grade!r} color={color!r} state={state!r}")
    if state == "blacklisted" and color != "red":
        raise ValueError("blacklisted badges must be red")
    if issued_at.utcoffset() is None:
        raise ValueError("issued_at must be timezone-aware")
    return issued_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _scale(side: int) -> int:
    """Pixels per module for a symbol of ``side`` modules (without quiet zone)."""
    return max(4, min(6, QR_TARGET_PX // (side + 2 * QUIET)))


def _png(img: Image.Image, **options: int) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG", **options)
    return out.getvalue()


def render_badge(*, token: str, grade: str | None, color: str, state: str,
                 masked_name: str, issued_at: datetime) -> bytes:
    """Return PNG bytes of the badge for one code token.

    The QR (byte mode, level M, fixed mask) encodes exactly ``token`` in a white
    4-module quiet zone, inside a FRAME-px frame of the color's PALETTE entry;
    below it: grade ("—" if None), color label, state label unless "normal",
    masked name and issue time in Asia/Shanghai.  Raises ValueError on unknown
    grade/color/state, a non-red blacklisted badge or a naive ``issued_at``.
    """
    when = _check(grade, color, state, issued_at)
    modules = _qr_modules(token)
    side = modules.width
    scale = _scale(side)
    qr_px = (side + 2 * QUIET) * scale
    img = _template(color, grade, state, qr_px).copy()
    bitmap = modules
    img.paste(bitmap.resize((side * scale, side * scale), Image.Resampling.NEAREST),
              ((img.width - qr_px) // 2 + QUIET * scale, FRAME + QUIET * scale))
    strip = Image.new("RGB", (img.width - 2 * FRAME, DYNAMIC_H), (255, 255, 255))
    _draw_dynamic(strip, 0, strip.width, 0, masked_name, when, font)
    img.paste(_to_p(strip), (FRAME, img.height - FRAME - PAD - DYNAMIC_H))
    return _png(img, compress_level=1)


#: zxing-cpp draws light modules 255 and dark ones 0; the palette has white at 0, black at 1.
_TO_PALETTE = bytes([1] * 128 + [0] * 128)


def _qr_modules(token: str) -> Image.Image:
    """The QR symbol of ``token`` (byte mode, level M, mask MASK), one palette pixel per module."""
    symbol = zxingcpp.create_barcode(token.encode(), zxingcpp.BarcodeFormat.QRCode, ec_level="M", data_mask=MASK)
    pixels = symbol.to_image(scale=1, add_quiet_zones=False)
    height, width = pixels.__array_interface__["shape"]
    return Image.frombytes("P", (width, height), bytes(memoryview(pixels)).translate(_TO_PALETTE))


def render_badge_naive(*, token: str, grade: str | None, color: str, state: str,
                       masked_name: str, issued_at: datetime) -> bytes:
    """Benchmark baseline, same picture as ``render_badge``: automatic mask
    selection, segno writes a PNG that Pillow reopens, fonts loaded from disk on
    every call, everything composed from scratch in RGB, default PNG compression."""
    when = _check(grade, color, state, issued_at)
    qr = segno.make(token, error="m", mode="byte", micro=False)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=_scale(qr.symbol_size(border=0)[0]), border=QUIET)
    buf.seek(0)
    qr_img = Image.open(buf).convert("RGB")
    img = _build_template(color, grade, state, qr_img.width, _load_font)
    img.paste(qr_img, ((img.width - qr_img.width) // 2, FRAME))
    _draw_dynamic(img, FRAME, img.width - FRAME, img.height - FRAME - PAD - DYNAMIC_H,
                  masked_name, when, _load_font)
    return _png(img)

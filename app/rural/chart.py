"""PNG chart of a county's villages by status (Pillow; no plotting library needed).

One bar per village, its height the share of credit households, colored by status (credit
village by star level, or not a credit village), with the credit-village threshold drawn
across. Chinese labels use the badge's CJK font discovery and fall back to English.
"""

from __future__ import annotations

import io
from decimal import Decimal

from PIL import Image, ImageDraw

from app.codes import badge
from app.rural.standing import PlaceStatus

COLORS = {3: (27, 94, 32), 2: (56, 142, 60), 1: (129, 199, 132), 0: (189, 189, 189)}
LABELS_ZH = {3: "三星信用村", 2: "二星信用村", 1: "信用村", 0: "非信用村"}
LABELS_EN = {3: "3-star", 2: "2-star", 1: "credit village", 0: "not credit"}
INK = (33, 33, 33)
LINE = (211, 47, 47)
HEIGHT, TOP, BOTTOM, LEFT, RIGHT = 520, 90, 60, 60, 30


def render_county_chart(county: PlaceStatus, villages: list[PlaceStatus], *, threshold: Decimal, as_of: str) -> bytes:
    """PNG bytes: villages sorted by credit-household share, colored by star level."""
    cjk = badge.has_cjk_font()
    labels = LABELS_ZH if cjk else LABELS_EN
    ordered = sorted(villages, key=lambda v: (-v.shares["credit_household_share"], v.code))
    bar = 14 if len(ordered) <= 40 else 8
    gap = 4 if bar > 8 else 2
    width = max(720, LEFT + RIGHT + len(ordered) * (bar + gap))
    img = Image.new("RGB", (width, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    plot_h = HEIGHT - TOP - BOTTOM
    base_y = HEIGHT - BOTTOM
    title = (f"{county.name} 信用村评定 {as_of}：{county.credit_villages}/{county.villages} 个信用村"
             if cjk else f"{county.code} credit villages {as_of}: {county.credit_villages}/{county.villages}")
    draw.text((LEFT, 16), title, font=badge.font(22), fill=INK)
    counts = {stars: sum(1 for v in ordered if (v.stars if v.credit else 0) == stars) for stars in COLORS}
    x = LEFT
    for stars in (3, 2, 1, 0):
        draw.rectangle((x, 54, x + 14, 68), fill=COLORS[stars])
        text = f"{labels[stars]} {counts[stars]}"
        draw.text((x + 20, 52), text, font=badge.font(15), fill=INK)
        x += 40 + int(draw.textlength(text, font=badge.font(15)))
    for pct in (0, 25, 50, 75, 100):
        y = base_y - plot_h * pct // 100
        draw.line((LEFT - 4, y, width - RIGHT, y), fill=(235, 235, 235))
        draw.text((8, y - 8), f"{pct}%", font=badge.font(13), fill=INK)
    for i, village in enumerate(ordered):
        share = float(village.shares["credit_household_share"])
        x0 = LEFT + i * (bar + gap)
        top = base_y - int(plot_h * share)
        color = COLORS[village.stars if village.credit else 0]
        draw.rectangle((x0, min(top, base_y - 1), x0 + bar - 1, base_y), fill=color)
    y = base_y - int(plot_h * float(threshold))
    draw.line((LEFT - 4, y, width - RIGHT, y), fill=LINE, width=2)
    note = f"信用户占比门槛 {float(threshold):.0%}" if cjk else f"threshold {float(threshold):.0%}"
    draw.text((width - RIGHT - 200, y - 20), note, font=badge.font(14), fill=LINE)
    axis = ("各村信用户占比（按高到低排列）；灰色为未达任一信用村门槛（信用户占比、无拖欠户比例、不良率）"
            if cjk else "credit-household share per village; grey: misses any credit-village threshold")
    draw.text((LEFT, base_y + 18), axis, font=badge.font(15), fill=INK)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()

"""The central loop through HTTP: fetch a code, verify it at the counter, change the grade."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image


def test_taxpayer_code_shows_grade_color_and_refresh(factory, client):
    _uscc, headers = factory.as_taxpayer("B")
    body = client.get("/api/v1/me/code", headers=headers).json
    assert (body["grade"], body["color"], body["state"]) == ("B", "silver", "normal")
    assert body["refresh_in"] == 55  # 60 s lifetime, refreshed 5 s before expiry
    assert body["token"].count(".") == 2


def test_same_token_is_served_until_refresh_then_a_new_one(factory, client, clock):
    _uscc, headers = factory.as_taxpayer("A")
    first = client.get("/api/v1/me/code", headers=headers).json
    clock.advance(seconds=30)
    again = client.get("/api/v1/me/code", headers=headers).json
    assert again["token"] == first["token"] and again["refresh_in"] == 25
    clock.advance(seconds=26)
    later = client.get("/api/v1/me/code", headers=headers).json
    assert later["token"] != first["token"]


def test_badge_png_decodes_to_the_token_the_api_returns(factory, client):
    _uscc, headers = factory.as_taxpayer("M")
    token = client.get("/api/v1/me/code", headers=headers).json["token"]
    response = client.get("/api/v1/me/code.png", headers=headers)
    assert response.status_code == 200 and response.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert [d.text for d in decoded] == [token]


def test_clerk_verifies_scanned_badge_with_masked_identity_and_privileges(factory, client):
    uscc, headers = factory.as_taxpayer("A", name="宁波海曙云帆贸易有限公司")
    png = client.get("/api/v1/me/code.png", headers=headers).data
    token = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))[0].text
    result = client.post("/api/v1/verifications", json={"token": token}, headers=factory.as_clerk()).json
    assert result["valid"] is True and result["reason"] == "ok" and result["stale"] is False
    assert (result["grade"], result["color"]) == ("A", "gold")
    assert result["taxpayer"] == {"name": "宁波******有限公司", "uscc": uscc[:4] + "*" * 12 + uscc[-2:]}
    keys = {p["key"] for p in result["privileges"]}
    assert {"tax_guidance", "bank_tax_loan", "green_channel"} <= keys and "credit_warning" not in keys


def test_grade_change_shows_at_next_fetch_and_marks_old_code_stale(factory, client):
    uscc, headers = factory.as_taxpayer("A")
    old_token = client.get("/api/v1/me/code", headers=headers).json["token"]
    admin = factory.as_admin()
    changed = client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=admin,
                         json={"grade": "D", "year": 2026, "reason": "直接判级：逃避缴纳税款"})
    assert changed.status_code == 200 and changed.json["color"] == "red"

    clerk = factory.as_clerk()
    stale = client.post("/api/v1/verifications", json={"token": old_token}, headers=clerk).json
    assert stale["valid"] is True and stale["reason"] == "stale" and stale["stale"] is True
    assert (stale["grade"], stale["color"]) == ("D", "red")
    assert [p["key"] for p in stale["privileges"]] == ["credit_warning", "credit_repair"]

    fresh = client.get("/api/v1/me/code", headers=headers).json
    assert (fresh["grade"], fresh["color"]) == ("D", "red") and fresh["token"] != old_token
    again = client.post("/api/v1/verifications", json={"token": fresh["token"]}, headers=clerk).json
    assert again["reason"] == "ok" and again["color"] == "red"


def test_blacklisted_taxpayer_is_red_whatever_its_grade(factory, client):
    _uscc, headers = factory.as_taxpayer("B", state="blacklisted")
    body = client.get("/api/v1/me/code", headers=headers).json
    assert (body["grade"], body["state"], body["color"]) == ("B", "blacklisted", "red")


def test_unrated_and_suspended_codes_are_neutral_without_privileges(factory, client):
    clerk = factory.as_clerk()
    for grade, state, color in ((None, "unrated", "grey"), ("B", "suspended", "slate")):
        _uscc, headers = factory.as_taxpayer(grade, state=state)
        token = client.get("/api/v1/me/code", headers=headers).json["token"]
        result = client.post("/api/v1/verifications", json={"token": token}, headers=clerk).json
        assert (result["color"], result["state"], result["privileges"]) == (color, state, [])


def test_suspension_takes_effect_immediately(factory, client):
    uscc, headers = factory.as_taxpayer("A")
    client.get("/api/v1/me/code", headers=headers)
    response = client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=factory.as_admin(),
                          json={"grade": "A", "state": "suspended", "year": 2026, "reason": "立案调查，本期不评"})
    assert response.status_code == 200
    assert client.get("/api/v1/me/code", headers=headers).json["color"] == "slate"

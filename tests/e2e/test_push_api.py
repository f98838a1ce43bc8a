"""Preference push through HTTP: policies for staff, inbox and preferences for taxpayers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.events import OutboxEvent
from app.extensions import db

RED_RULE = {"==": [{"var": "color"}, "red"]}


def policy_body(**overrides):
    body = {"title": "纳税信用修复指引", "body": "您的纳税信用级别为D级，可按规定申请信用修复。", "category": "credit_repair",
            "rule": RED_RULE, "priority": 80}
    body.update(overrides)
    return body


def create(client, admin, **overrides):
    response = client.post("/api/v1/policies", json=policy_body(**overrides), headers=admin)
    assert response.status_code == 201, response.json
    return response.json


def test_bad_rule_is_rejected_with_the_path_of_each_bad_part(client, factory):
    admin = factory.as_admin()
    rule = {"and": [{"==": [{"var": "colour"}, "red"]}, {"<": [{"var": "grade"}, "B"]}, {"regex": ["x"]}]}
    response = client.post("/api/v1/policies", json=policy_body(rule=rule), headers=admin)
    assert response.status_code == 422
    problems = response.json["errors"]["rule"]
    assert any(p.startswith("rule.and[0].==[0].var: unknown variable 'colour'") for p in problems)
    assert any(p.startswith("rule.and[1].<[1]: grade cannot be ordered") for p in problems)
    assert any(p.startswith("rule.and[2].regex: unknown operator") for p in problems)


@pytest.mark.parametrize("field, value", [
    ("category", "lottery"), ("priority", 101), ("region_scope", ["33AB"]), ("valid_to", "not a date"),
    ("title", ""), ("rule", None),
    # a trailing newline, and digits other than ASCII 0-9, are not a region code
    ("region_scope", ["3302\n"]), ("region_scope", ["３３０２"]), ("region_scope", ["٣٣٠٢"]),
])
def test_bad_policy_fields_answer_422_naming_the_field(client, factory, field, value):
    response = client.post("/api/v1/policies", json=policy_body(**{field: value}), headers=factory.as_admin())
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_validity_window_must_end_after_it_starts(client, factory):
    response = client.post("/api/v1/policies", headers=factory.as_admin(), json=policy_body(
        valid_from="2026-12-01T00:00:00", valid_to="2026-11-30T00:00:00"))
    assert response.status_code == 422 and "valid_to" in response.json["errors"]


def test_policies_are_for_tax_admins_only(client, factory):
    _uscc, taxpayer = factory.as_taxpayer("A")
    assert client.get("/api/v1/policies", headers=taxpayer).status_code == 403
    assert client.post("/api/v1/policies", json=policy_body(), headers=factory.as_clerk()).status_code == 403
    assert client.get("/api/v1/policies").status_code == 401
    assert client.get("/api/v1/me/inbox", headers=factory.as_admin()).status_code == 403


def test_times_are_shown_in_shanghai_and_naive_input_is_read_as_shanghai(client, factory):
    policy = create(client, factory.as_admin(), valid_from="2026-11-25T08:00:00")
    assert policy["valid_from"] == "2026-11-25T08:00:00+08:00"


def test_preview_counts_and_samples_the_taxpayers_the_rule_matches(client, factory):
    admin = factory.as_admin()
    red = {factory.taxpayer("D"), factory.taxpayer("A", state="blacklisted")}
    factory.taxpayer("A")
    policy = create(client, admin)
    preview = client.post(f"/api/v1/policies/{policy['id']}/preview", headers=admin).json
    assert preview["matching"] == 2 and {s["uscc"] for s in preview["sample"]} == red


def test_publish_fans_out_to_matching_inboxes_once_even_when_published_twice(client, factory):
    admin = factory.as_admin()
    uscc, me = factory.as_taxpayer("D")
    _other, other = factory.as_taxpayer("A")
    policy = create(client, admin)
    for _ in range(2):
        response = client.post(f"/api/v1/policies/{policy['id']}/publish", headers=admin)
        assert response.status_code == 202 and response.json["status"] == "published"
    inbox = client.get("/api/v1/me/inbox", headers=me).json
    assert inbox["total"] == 1 and inbox["unread"] == 1 and inbox["items"][0]["title"] == "纳税信用修复指引"
    assert client.get("/api/v1/me/inbox", headers=other).json["total"] == 0
    counts = client.get(f"/api/v1/policies/{policy['id']}/deliveries", headers=admin).json
    assert counts["total"] == 1 and counts["by_channel"] == {"inbox": {"delivered": 1}}


def test_inbox_message_explains_the_clauses_the_taxpayer_satisfied(client, factory):
    admin = factory.as_admin()
    _uscc, me = factory.as_taxpayer("D")
    rule = {"and": [{"in": [{"var": "color"}, ["red", "blue"]]}, {"or": [{"==": [{"var": "grade"}, "D"]},
                                                                       {"==": [{"var": "state"}, "blacklisted"]}]}]}
    policy = create(client, admin, rule=rule)
    client.post(f"/api/v1/policies/{policy['id']}/publish", headers=admin)
    item_id = client.get("/api/v1/me/inbox", headers=me).json["items"][0]["id"]
    detail = client.get(f"/api/v1/me/inbox/{item_id}", headers=me).json
    assert [c["path"] for c in detail["explanation"]] == ["rule.and[0]", "rule.and[1].or[0]"]
    assert detail["explanation"][1]["clause"] == "纳税信用级别 为 D"


def test_a_taxpayer_cannot_read_another_taxpayers_message(client, factory):
    admin = factory.as_admin()
    _uscc, owner = factory.as_taxpayer("D")
    _other, intruder = factory.as_taxpayer("D")
    policy = create(client, admin)
    client.post(f"/api/v1/policies/{policy['id']}/publish", headers=admin)
    item_id = client.get("/api/v1/me/inbox", headers=owner).json["items"][0]["id"]
    mine = {i["id"] for i in client.get("/api/v1/me/inbox", headers=intruder).json["items"]}
    assert item_id not in mine
    assert client.get(f"/api/v1/me/inbox/{item_id}", headers=intruder).status_code == 404
    assert client.post(f"/api/v1/me/inbox/{item_id}/read", headers=intruder).status_code == 404


def test_reading_a_message_lowers_the_unread_count(client, factory):
    admin = factory.as_admin()
    _uscc, me = factory.as_taxpayer("D")
    policy = create(client, admin)
    client.post(f"/api/v1/policies/{policy['id']}/publish", headers=admin)
    item_id = client.get("/api/v1/me/inbox", headers=me).json["items"][0]["id"]
    read = client.post(f"/api/v1/me/inbox/{item_id}/read", headers=me)
    assert read.status_code == 200 and read.json["read"] is True
    assert client.get("/api/v1/me/inbox", headers=me).json["unread"] == 0
    counts = client.get(f"/api/v1/policies/{policy['id']}/deliveries", headers=admin).json
    assert counts["by_status"] == {"read": 1}


def test_preferences_default_to_quiet_hours_21_to_8_and_can_be_replaced(client, factory):
    _uscc, me = factory.as_taxpayer("B")
    prefs = client.get("/api/v1/me/preferences", headers=me).json
    assert prefs["quiet_hours"] == {"start": "21:00", "end": "08:00"} and prefs["opt_out_categories"] == []
    new = {"opt_out_categories": ["training"], "opt_out_channels": [], "quiet_hours": None, "daily_cap": 3}
    assert client.put("/api/v1/me/preferences", json=new, headers=me).json == new
    assert client.get("/api/v1/me/preferences", headers=me).json == new


@pytest.mark.parametrize("patch, field", [
    ({"opt_out_categories": ["spam"]}, "opt_out_categories"), ({"daily_cap": 0}, "daily_cap"),
    ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours"), ({"opt_out_channels": ["fax"]},
                                                                             "opt_out_channels"),
    ({"quiet_hours": {"start": "08:00", "end": "08:00"}}, "quiet_hours"),
    # a trailing newline would overflow the stored "HH:MM-HH:MM" and dodge the start != end check
    ({"quiet_hours": {"start": "22:00\n", "end": "07:00\n"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "08:00\n", "end": "08:00"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "０８:００", "end": "21:00"}}, "quiet_hours"),
])
def test_bad_preferences_answer_422_naming_the_field(client, factory, patch, field):
    _uscc, me = factory.as_taxpayer("B")
    body = {"opt_out_categories": [], "opt_out_channels": [], "quiet_hours": None, "daily_cap": 5, **patch}
    response = client.put("/api/v1/me/preferences", json=body, headers=me)
    assert response.status_code == 422 and field in response.json["errors"]


def test_published_policy_keeps_its_rule_and_withdrawing_suppresses_pending_messages(client, factory, clock):
    admin = factory.as_admin()
    factory.taxpayer("D")
    policy = create(client, admin)
    client.post(f"/api/v1/policies/{policy['id']}/publish", headers=admin)
    changed = client.patch(f"/api/v1/policies/{policy['id']}", json={"rule": True}, headers=admin)
    assert changed.status_code == 409
    assert client.patch(f"/api/v1/policies/{policy['id']}", json={"title": "信用修复指引（更新）"},
                        headers=admin).status_code == 200
    assert client.delete(f"/api/v1/policies/{policy['id']}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/policies/{policy['id']}", headers=admin).json["status"] == "withdrawn"
    assert client.post(f"/api/v1/policies/{policy['id']}/publish", headers=admin).status_code == 409


def test_a_draft_is_deleted_for_good(client, factory):
    admin = factory.as_admin()
    policy = create(client, admin)
    assert client.delete(f"/api/v1/policies/{policy['id']}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/policies/{policy['id']}", headers=admin).status_code == 404


def test_tags_feed_rules(client, factory):
    admin = factory.as_admin()
    exporter, me = factory.as_taxpayer("B")
    factory.taxpayer("B")
    assert client.put(f"/api/v1/taxpayers/{exporter}/tags", json={"tags": ["export"]}, headers=admin).status_code == 200
    policy = create(client, admin, category="tax_relief", title="出口退税提速", body="出口退（免）税平均办理时间压缩至3个工作日。",
                    rule={"in": ["export", {"var": "tags"}]})
    assert client.post(f"/api/v1/policies/{policy['id']}/preview", headers=admin).json["matching"] == 1
    assert client.put(f"/api/v1/taxpayers/{exporter}/tags", json={"tags": ["Export!"]},
                      headers=admin).status_code == 422


def test_a_taxpayer_tagged_after_a_policy_went_out_receives_it_then_and_only_once(app, client, factory):
    admin = factory.as_admin()
    exporter, me = factory.as_taxpayer("B")
    policy = create(client, admin, category="tax_relief", title="出口退税提速", body="出口退（免）税平均办理时间压缩至3个工作日。",
                    rule={"in": ["export", {"var": "tags"}]})
    assert client.post(f"/api/v1/policies/{policy['id']}/publish", headers=admin).status_code == 202
    assert client.get("/api/v1/me/inbox", headers=me).json["items"] == []  # not an exporter yet
    for _ in range(2):  # tagged, then the same tags sent again
        assert client.put(f"/api/v1/taxpayers/{exporter}/tags", json={"tags": ["export"]},
                          headers=admin).status_code == 200
    assert [m["title"] for m in client.get("/api/v1/me/inbox", headers=me).json["items"]] == ["出口退税提速"]
    with app.app_context(), db.engine.connect() as conn:  # type: ignore[union-attr]
        published = conn.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "TagsChanged"))
    assert published == 1  # the same tags again changed nothing: no second re-match


@pytest.mark.parametrize("tag", ["Export!", "a" * 33, "a" * 32 + "\n", "export\n", "", "出口"])
def test_bad_tags_answer_422_naming_the_field(client, factory, tag):
    admin = factory.as_admin()
    uscc = factory.taxpayer("B")
    response = client.put(f"/api/v1/taxpayers/{uscc}/tags", json={"tags": [tag]}, headers=admin)
    assert response.status_code == 422 and "tags" in response.json["errors"]


def test_policies_are_listed_newest_first_and_filtered_by_status(client, factory):
    admin = factory.as_admin()
    first = create(client, admin, title="第一条政策")
    second = create(client, admin, title="第二条政策")
    client.post(f"/api/v1/policies/{first['id']}/publish", headers=admin)
    listed = client.get("/api/v1/policies", headers=admin)
    assert [p["id"] for p in listed.json] == [second["id"], first["id"]]
    published = client.get("/api/v1/policies?status=published", headers=admin).json
    assert [p["id"] for p in published] == [first["id"]]
    assert client.get("/api/v1/policies?status=bogus", headers=admin).status_code == 422


def test_unknown_policy_answers_404_not_500(client, factory):
    admin = factory.as_admin()
    for method, path in (("get", "/api/v1/policies/999"), ("post", "/api/v1/policies/999/publish"),
                         ("post", "/api/v1/policies/999/preview"), ("get", "/api/v1/policies/999/deliveries"),
                         ("delete", "/api/v1/policies/999")):
        assert getattr(client, method)(path, headers=admin).status_code == 404


def test_push_routes_are_in_the_openapi_document_with_their_roles(client):
    spec = client.get("/openapi.json").json
    assert spec["paths"]["/api/v1/policies/{policy_id}/publish"]["post"]["x-roles"] == ["tax_admin"]
    assert spec["paths"]["/api/v1/me/inbox"]["get"]["x-roles"] == ["taxpayer"]


def test_policy_list_pages_with_the_status_filter(client, factory):
    admin = factory.as_admin()
    ids = [create(client, admin, title=f"政策{n}")["id"] for n in range(3)]
    page = client.get("/api/v1/policies?status=draft&page=2&page_size=1", headers=admin)
    assert page.status_code == 200 and [p["id"] for p in page.json] == [ids[1]]
    assert '"total": 3' in page.headers["X-Pagination"]


def test_inbox_pages_newest_first(client, factory):
    admin = factory.as_admin()
    _uscc, me = factory.as_taxpayer("D")
    for n in range(3):
        policy = create(client, admin, title=f"政策{n}")
        client.post(f"/api/v1/policies/{policy['id']}/publish", headers=admin)
    first = client.get("/api/v1/me/inbox?page=1&page_size=2", headers=me).json
    assert [i["title"] for i in first["items"]] == ["政策2", "政策1"]
    page = client.get("/api/v1/me/inbox?page=2&page_size=2", headers=me).json
    assert page["total"] == 3 and page["unread"] == 3 and [i["title"] for i in page["items"]] == ["政策0"]
    assert client.get("/api/v1/me/inbox?page_size=500", headers=me).status_code == 422

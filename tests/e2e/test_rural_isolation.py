"""Officers see and change only their own county; full ID numbers only in the owning officer's view."""

from __future__ import annotations

import pytest

from tests.rural_factories import GOOD_FACTS, HOUSEHOLD_HEADER, RuralFactory, csv_line, make_id_number

API = "/api/v1/rural"


@pytest.fixture
def world(factory, clock):
    rf = RuralFactory(factory)
    ours = rf.county("330283", name="奉化区")
    theirs = rf.county("330281", name="余姚市")
    officer = rf.officer("330283")
    household = rf.household(officer, ours[0], name="张三丰")
    rating = rf.rated(officer, household["id"], clock)
    return {"rf": rf, "ours": ours, "theirs": theirs, "officer": officer, "household": household, "rating": rating}


def test_officer_of_another_county_cannot_read_anything_of_ours(client, world):
    other = world["rf"].officer("330281")
    hid, rid = world["household"]["id"], world["rating"]["id"]
    for path in (f"/households/{hid}", f"/households/{hid}/ratings", f"/ratings/{rid}"):
        assert client.get(API + path, headers=other).status_code == 404, path
    for path in (f"/places/{world['ours'][0]}", f"/places/{world['ours'][0]}/status", "/places/330283/report",
                 "/places/330283/report.csv", "/places/330283/chart.png"):
        assert client.get(API + path, headers=other).status_code == 403, path
    assert client.get(f"{API}/households/{hid}/limit", headers=other).status_code == 404
    for path in ("/households?county=330283", "/ratings?county=330283", "/places?county=330283"):
        assert client.get(API + path, headers=other).status_code == 403, path
    assert client.get(f"{API}/households", headers=other).json == []  # its own county: nothing filed yet


def test_officer_of_another_county_cannot_change_anything_of_ours(client, world, rural_csv):
    other = world["rf"].officer("330281")
    hid, rid = world["household"]["id"], world["rating"]["id"]
    assert client.patch(f"{API}/households/{hid}", headers=other, json={"members": 9}).status_code == 404
    assert client.post(f"{API}/households/{hid}/ratings", headers=other).status_code == 404
    for action, body in (("withdrawal", {}), ("confirmation", None),
                         ("objections", {"raised_by": "某人", "reason": "捣乱的异议"})):
        assert client.post(f"{API}/ratings/{rid}/{action}", headers=other, json=body).status_code == 404, action
    filing = client.post(f"{API}/households", headers=other, json=GOOD_FACTS | {
        "village_code": world["ours"][0], "id_number": make_id_number(), "head_name": "李四"})
    assert filing.status_code == 403 and "village_code" in filing.json["errors"]
    imported = world["rf"].upload(f"{API}/households/imports", other, rural_csv(world["ours"][0])).json
    assert imported["created"] == 0 and imported["errors"][0]["errors"]["village_code"]
    number = client.get(f"{API}/households/{hid}", headers=world["officer"]).json["id_number"]  # unmasked
    loans = f"loan_no,id_number,amount,balance,days_overdue,issued_on\nX1,{number},1000,1000,0,2026-01-01\n"
    result = world["rf"].upload(f"{API}/loans/imports", other, loans).json
    assert result["created"] == 0 and "本县没有" in result["errors"][0]["errors"]["id_number"][0]
    assert client.post(f"{API}/ratings/proposals", headers=other, json={"county": "330283"}).status_code == 403
    assert client.get(f"{API}/households/{hid}", headers=world["officer"]).json["members"] == 4


def test_a_loan_number_of_our_county_cannot_be_overwritten_from_another_county_of_the_same_bank(client, world):
    rf, officer = world["rf"], world["officer"]
    number = client.get(f"{API}/households/{world['household']['id']}", headers=officer).json["id_number"]
    header = "loan_no,id_number,amount,balance,days_overdue,issued_on\n"
    assert rf.upload(f"{API}/loans/imports", officer, header + f"L-0001,{number},50000,20000,0,2026-01-05\n"
                     ).json["created"] == 1
    other = rf.officer("330281", bank="B1")  # the same bank, another county
    theirs = rf.household(other, world["theirs"][0], name="李四")
    their_number = client.get(f"{API}/households/{theirs['id']}", headers=other).json["id_number"]
    result = rf.upload(f"{API}/loans/imports", other, header + f"L-0001,{their_number},50000,50000,400,2025-01-05\n"
                       f"L-0002,{their_number},1000,1000,0,2026-01-01\n").json
    assert (result["created"], result["changed"], result["rejected"]) == (1, 0, 1)  # the good line is kept
    assert result["errors"] == [{"line": 2, "errors": {"loan_no": ["本行该贷款编号已登记在其他县，不能在本县导入"]}}]
    ours = client.get(f"{API}/loans", headers=officer).json
    assert [(loan["loan_no"], loan["balance"], loan["days_overdue"], loan["household_id"]) for loan in ours] == [
        ("L-0001", "20000.00", 0, world["household"]["id"])]


def test_a_name_search_spells_out_no_name_the_caller_sees_masked(client, world):
    rf, village = world["rf"], world["ours"][0]
    owner = rf.officer("330283", bank="B2")
    rf.household(owner, village, name="欧阳娜娜")
    other_bank, admin = rf.officer("330283", bank="B1"), rf.admin("330283")

    def found(headers, name):
        return [h["head_name"] for h in client.get(f"{API}/households", headers=headers,
                                                   query_string={"name": name}).json]

    assert found(owner, "欧阳娜") == ["欧***"]  # its own household: the full name is its to know
    for headers in (other_bank, admin):  # they see "欧***": the surname finds it, a guess past it does not
        assert found(headers, "欧") == ["欧***"]
        assert found(headers, "欧阳") == [] and found(headers, "欧阳娜娜") == []


def test_only_the_owning_officer_sees_the_full_id_number(client, world, factory):
    hid = world["household"]["id"]
    own = client.get(f"{API}/households/{hid}", headers=world["officer"]).json
    assert own["id_number_masked"] is False and own["head_name"] == "张三丰" and "*" not in own["id_number"]
    listed = client.get(f"{API}/households", headers=world["officer"]).json[0]
    assert listed["id_number"] == own["id_number"][:6] + "********" + own["id_number"][-4:]
    assert listed["head_name"] == "张**"
    other_bank = world["rf"].officer("330283", bank="B2")
    assert client.get(f"{API}/households/{hid}", headers=other_bank).json["id_number_masked"] is True
    admin = world["rf"].admin("330283")
    assert client.get(f"{API}/households/{hid}", headers=admin).json["id_number_masked"] is True


def test_roles_outside_rural_credit_are_refused(client, world, factory):
    clerk = factory.as_clerk()
    _uscc, taxpayer = factory.as_taxpayer("A")
    for headers in (clerk, taxpayer, factory.as_admin()):
        assert client.get(f"{API}/households", headers=headers).status_code == 403
        assert client.get(f"{API}/places/330283/status", headers=headers).status_code == 403
    assert client.get(f"{API}/households").status_code == 401


def test_only_rural_admins_manage_places_and_scorecards(client, world):
    officer = world["officer"]
    assert client.post(f"{API}/places", headers=officer, json={"code": "330283003", "name": "新镇", "level": "township",
                                                              "parent_code": "330283"}).status_code == 403
    assert client.post(f"{API}/scorecards", headers=officer, json={"body": {}}).status_code == 403
    bound = world["rf"].admin("330283")
    assert client.post(f"{API}/places", headers=bound, json={"code": "330281003", "name": "他镇", "level": "township",
                                                            "parent_code": "330281"}).status_code == 403
    created = client.post(f"{API}/places", headers=bound, json={"code": "330283003", "name": "新镇",
                                                               "level": "township", "parent_code": "330283"})
    assert created.status_code == 201


@pytest.mark.parametrize("body, field", [
    ({"code": "33028300", "name": "x", "level": "township", "parent_code": "330283"}, "code"),
    ({"code": "330284001", "name": "x", "level": "township", "parent_code": "330283"}, "parent_code"),
    ({"code": "330283001009", "name": "x", "level": "village", "parent_code": "330283"}, "parent_code"),
])
def test_bad_place_codes_are_a_422_naming_the_field(client, world, body, field):
    response = client.post(f"{API}/places", headers=world["rf"].admin(), json=body)
    assert response.status_code == 422 and field in response.json["errors"], response.json


def test_lists_are_paged_and_filterable(client, world):
    rf, officer, village = world["rf"], world["officer"], world["ours"]
    for n in range(4):
        rf.household(officer, village[1], name=f"王{n}")
    page = client.get(f"{API}/households?page=1&page_size=2&village_code={village[1]}", headers=officer)
    assert len(page.json) == 2 and '"total": 4' in page.headers["X-Pagination"]
    assert [h["head_name"] for h in client.get(f"{API}/households?grade=AAA", headers=officer).json] == ["张**"]
    assert len(client.get(f"{API}/households?rated=false", headers=officer).json) == 4
    assert len(client.get(f"{API}/places?level=village", headers=officer).json) == 2
    assert client.get(f"{API}/ratings?state=confirmed", headers=officer).json[0]["id"] == world["rating"]["id"]
    assert client.get(f"{API}/households?grade=B", headers=officer).status_code == 422


def test_every_documented_list_filter_narrows_the_list(client, world, clock):
    rf, officer, second = world["rf"], world["officer"], world["ours"][1]
    weak = rf.household(officer, second, name="王五")
    vetoed = rf.household(officer, second, {"credit_record": "bad"}, name="赵六")
    vetoed_rating = rf.rated(officer, vetoed["id"], clock)  # in force, but no grade

    def names(query: str) -> list[str]:
        response = client.get(f"{API}/households?{query}", headers=officer)
        assert response.status_code == 200, response.json
        return [h["head_name"] for h in response.json]

    assert names("grade=none") == ["王*", "赵*"]
    assert names("rated=true") == ["张**", "赵*"] and names("rated=false") == ["王*"]
    assert names("township_code=330283001") == ["张**", "王*", "赵*"] and names("township_code=330283002") == []
    assert names("name=王") == ["王*"]
    ratings = {f: [r["id"] for r in client.get(f"{API}/ratings?{f}", headers=officer).json]
               for f in ("grade=AAA", f"village_code={second}")}
    assert ratings == {"grade=AAA": [world["rating"]["id"]], f"village_code={second}": [vetoed_rating["id"]]}
    numbers = {h["id"]: client.get(f"{API}/households/{h['id']}", headers=officer).json["id_number"]
               for h in (world["household"], weak)}
    loans = (f"loan_no,id_number,amount,balance,days_overdue,issued_on\n"
             f"L1,{numbers[world['household']['id']]},50000,20000,31,2026-01-05\n"
             f"L2,{numbers[weak['id']]},10000,5000,0,2026-01-05\n")
    assert rf.upload(f"{API}/loans/imports", officer, loans).json["created"] == 2

    def loan_nos(query: str) -> list[str]:
        return [loan["loan_no"] for loan in client.get(f"{API}/loans?{query}", headers=officer).json]

    assert loan_nos(f"village_code={second}") == ["L2"] and loan_nos("overdue=false") == ["L2"]
    assert loan_nos(f"household_id={world['household']['id']}") == ["L1"]


@pytest.fixture
def rural_csv():
    def build(village: str) -> str:
        return HOUSEHOLD_HEADER + "\n" + csv_line(village, "外县", make_id_number()) + "\n"
    return build


def test_household_and_loan_imports_over_http_report_bad_lines_and_feed_the_loan_list(client, world, rural_csv):
    rf, officer, village = world["rf"], world["officer"], world["ours"][1]
    text = rural_csv(village) + f"{village},坏行,12345,4\n"
    report = rf.upload(f"{API}/households/imports", officer, text)
    assert report.status_code == 201 and (report.json["created"], report.json["rejected"]) == (1, 1)
    assert report.json["errors"][0]["line"] == 3
    number = client.get(f"{API}/households/{world['household']['id']}", headers=officer).json["id_number"]
    loans = (f"loan_no,id_number,amount,balance,days_overdue,issued_on\n"
             f"L1,{number},50000,20000,31,2026-01-05\nL2,{number},10000,0,0,2025-01-05\n")
    assert rf.upload(f"{API}/loans/imports", officer, loans).json["created"] == 2
    overdue = client.get(f"{API}/loans?overdue=true", headers=officer).json
    assert [(loan["loan_no"], loan["balance"]) for loan in overdue] == [("L1", "20000.00")]
    not_utf8 = rf.client.post(f"{API}/households/imports", headers=officer, content_type="multipart/form-data",
                              data={"file": (__import__("io").BytesIO("村".encode("gbk")), "gbk.csv")})
    assert not_utf8.status_code == 422 and "file" in not_utf8.json["errors"]
    other = rf.officer("330281")
    assert client.get(f"{API}/loans", headers=other).json == []


def test_filters_naming_our_household_show_another_county_nothing(client, world):
    other, hid = world["rf"].officer("330281"), world["household"]["id"]
    for path in (f"/ratings?household_id={hid}", f"/loans?household_id={hid}",
                 f"/households?village_code={world['ours'][0]}", "/places?parent_code=330283001"):
        response = client.get(API + path, headers=other)
        assert response.status_code == 200 and response.json == [], path
    resolution = client.post(f"{API}/ratings/{world['rating']['id']}/objections/1/resolution", headers=other,
                             json={"outcome": "dismissed", "note": "外县处理"})
    assert resolution.status_code == 404


def test_a_county_bound_admin_neither_reads_nor_publishes_another_countys_scorecard(client, world):
    ours = world["rf"].admin("330283")
    body = client.get(f"{API}/scorecards/{world['rating']['scorecard_id']}", headers=ours).json["body"]
    unbound = world["rf"].admin()
    theirs = client.post(f"{API}/scorecards", headers=unbound, json={"body": body, "county_code": "330281"})
    assert theirs.status_code == 201, theirs.json
    assert client.get(f"{API}/scorecards/{theirs.json['id']}", headers=ours).status_code == 404
    assert theirs.json["id"] not in {s["id"] for s in client.get(f"{API}/scorecards", headers=ours).json}
    refused = client.post(f"{API}/scorecards", headers=ours, json={"body": body, "county_code": "330281"})
    assert refused.status_code == 403

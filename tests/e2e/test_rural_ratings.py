"""Through HTTP: file a household, rate it, public notice with objections, confirm, limit, statuses."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.rural.scorecard_parse import load_scorecard_file
from tests.rural_factories import GOOD_FACTS, WEAK_FACTS, make_id_number

API = "/api/v1/rural"



def propose(client, officer, household_id):
    response = client.post(f"{API}/households/{household_id}/ratings", headers=officer)
    assert response.status_code == 201, response.json
    return response.json


def test_rating_shows_score_grade_every_item_and_the_proposed_limit(client, rural, officer, village):
    household = rural.household(officer, village)
    rating = propose(client, officer, household["id"])
    assert (rating["state"], rating["score"], rating["grade"], rating["veto"]) == ("proposed", "92", "AAA", None)
    assert len(rating["items"]) == 18 and all(item["reason"] for item in rating["items"])
    assert rating["scorecard"] == "xian-2018" and rating["scorecard_version"] == 1
    assert rating["limit_amount"] == "154000.00"
    assert [t["key"] for t in rating["limit_terms"]] == ["base", "assets", "operating_income"]
    assert rating["notice_ends_at"] == "2026-12-03T00:00:00+08:00"  # posted 25 Nov 10:00 Shanghai, 7 days


def test_vetoed_household_is_rated_but_not_a_credit_household(client, rural, officer, village):
    household = rural.household(officer, village, {"credit_record": "bad"})
    rating = propose(client, officer, household["id"])
    assert rating["grade"] is None and rating["credit_household"] is False
    assert rating["veto"]["key"] == "bad_credit_record" and rating["limit_amount"] == "0.00"


def test_rating_cannot_be_confirmed_a_second_before_the_notice_ends(client, rural, officer, village, clock):
    rating = propose(client, officer, rural.household(officer, village)["id"])
    clock.current = clock.current.replace(hour=15, minute=59, second=59) + timedelta(days=7)  # 2 Dec 23:59:59 +08
    early = client.post(f"{API}/ratings/{rating['id']}/confirmation", headers=officer.refresh())
    assert early.status_code == 409 and "公示期未满" in early.json["message"]
    clock.advance(seconds=1)
    confirmed = client.post(f"{API}/ratings/{rating['id']}/confirmation", headers=officer)
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["state"] == "confirmed" and confirmed.json["valid_until"] == "2027-12-03"


def test_open_objection_blocks_confirmation_until_dismissed(client, rural, officer, village, clock):
    rating = propose(client, officer, rural.household(officer, village)["id"])
    objected = client.post(f"{API}/ratings/{rating['id']}/objections", headers=officer,
                           json={"raised_by": "村民 李某", "reason": "该户实际有外债未申报"})
    assert objected.status_code == 201 and objected.json["objections"][0]["outcome"] is None
    objection_id = objected.json["objections"][0]["id"]
    clock.advance(days=8)
    blocked = client.post(f"{API}/ratings/{rating['id']}/confirmation", headers=officer.refresh())
    assert blocked.status_code == 409 and blocked.json["errors"] == {"objections": ["open objection"]}
    dismissed = client.post(f"{API}/ratings/{rating['id']}/objections/{objection_id}/resolution", headers=officer,
                            json={"outcome": "dismissed", "note": "经核实外债已结清"})
    assert dismissed.status_code == 200
    assert client.post(f"{API}/ratings/{rating['id']}/confirmation", headers=officer).status_code == 200


def test_upheld_objection_means_withdraw_and_rate_again(client, rural, officer, village, clock):
    household = rural.household(officer, village)
    rating = propose(client, officer, household["id"])
    objection = client.post(f"{API}/ratings/{rating['id']}/objections", headers=officer,
                            json={"raised_by": "村委会", "reason": "家庭人口登记有误"}).json["objections"][0]
    client.post(f"{API}/ratings/{rating['id']}/objections/{objection['id']}/resolution", headers=officer,
                json={"outcome": "upheld", "note": "人口应为 6 人"})
    clock.advance(days=8)
    officer.refresh()
    assert client.post(f"{API}/ratings/{rating['id']}/confirmation", headers=officer).status_code == 409
    assert client.post(f"{API}/households/{household['id']}/ratings", headers=officer).status_code == 409
    withdrawn = client.post(f"{API}/ratings/{rating['id']}/withdrawal", headers=officer, json={"note": "异议成立"})
    assert withdrawn.json["state"] == "withdrawn"
    client.patch(f"{API}/households/{household['id']}", headers=officer, json={"members": 6})
    assert propose(client, officer, household["id"])["score"] == "91"


def test_an_objectors_name_shows_in_full_only_to_the_bank_that_filed_the_household(client, rural, officer, village):
    # DOMAIN.md §1: person names masked (surname + *) wherever a bank sees them that does not own the record.
    rating = propose(client, officer, rural.household(officer, village)["id"])
    objected = client.post(f"{API}/ratings/{rating['id']}/objections", headers=officer,
                           json={"raised_by": "王小明", "reason": "该户实际有外债未申报"})
    assert objected.json["objections"][0]["raised_by"] == "王小明"
    other_bank, admin = rural.officer(bank="B2"), rural.admin("330283")
    for who in (other_bank, admin):
        seen = client.get(f"{API}/ratings/{rating['id']}", headers=who).json["objections"]
        listed = client.get(f"{API}/ratings?county=330283", headers=who).json[0]["objections"]
        assert [o["raised_by"] for o in seen + listed] == ["王**", "王**"]
        assert seen[0]["reason"] == "该户实际有外债未申报"
    listed = client.get(f"{API}/ratings?county=330283", headers=officer).json[0]["objections"]
    assert [o["raised_by"] for o in listed] == ["王小明"]


def test_objection_after_the_notice_is_refused(client, rural, officer, village, clock):
    rating = propose(client, officer, rural.household(officer, village)["id"])
    clock.advance(days=8)
    late = client.post(f"{API}/ratings/{rating['id']}/objections", headers=officer.refresh(),
                       json={"raised_by": "村民", "reason": "迟到的异议"})
    assert late.status_code == 409


def test_confirmed_limit_explains_each_term_and_takes_the_rate_from_the_village_stars(client, rural, officer,
                                                                                     village, clock):
    household = rural.household(officer, village)
    rural.rated(officer, household["id"], clock)
    limit = client.get(f"{API}/households/{household['id']}/limit", headers=officer).json
    assert limit["amount"] == "154000.00" and limit["valid_until"] == "2027-12-03"
    assert sum(float(t["amount"]) for t in limit["terms"]) == 154000
    # the only household of its village is a credit household and no loan is bad: a 3-star village
    assert limit["rate"]["village_stars"] == 3 and limit["rate"]["rate"] == "5.3750"
    clock.advance(days=366)
    assert client.get(f"{API}/households/{household['id']}/limit", headers=officer.refresh()).status_code == 404
    rating = client.get(f"{API}/households/{household['id']}/ratings", headers=officer).json[0]
    assert rating["state"] == "expired" and rating["valid_until"] == "2027-12-03"
    assert client.get(f"{API}/places/{village}/status", headers=officer).json["figures"]["credit_households"] == 0


def test_withdrawing_a_rating_in_force_takes_the_grade_and_the_limit_away(client, rural, officer, village, clock):
    household = rural.household(officer, village)
    rating = rural.rated(officer, household["id"], clock)
    assert client.get(f"{API}/places/{village}/status", headers=officer).json["figures"]["credit_households"] == 1
    withdrawn = client.post(f"{API}/ratings/{rating['id']}/withdrawal", headers=officer, json={"note": "隐瞒负债"})
    assert withdrawn.status_code == 200 and withdrawn.json["state"] == "withdrawn"
    filed = client.get(f"{API}/households/{household['id']}", headers=officer).json
    assert (filed["grade"], filed["limit_amount"], filed["rating_id"]) == (None, None, None)
    assert client.get(f"{API}/households/{household['id']}/limit", headers=officer).status_code == 404
    assert client.get(f"{API}/places/{village}/status", headers=officer).json["figures"]["credit_households"] == 0
    again = client.post(f"{API}/ratings/{rating['id']}/withdrawal", headers=officer, json={})
    assert again.status_code == 409 and again.json["errors"] == {"state": ["withdrawn"]}


def test_a_new_confirmed_rating_supersedes_the_one_in_force(client, rural, officer, village, clock):
    household = rural.household(officer, village)
    first = rural.rated(officer, household["id"], clock)
    client.patch(f"{API}/households/{household['id']}", headers=officer, json={"bad_records": ["gambling"]})
    second = rural.rated(officer, household["id"], clock)
    assert second["grade"] == "AA"
    assert client.get(f"{API}/ratings/{first['id']}", headers=officer).json["state"] == "superseded"
    assert client.get(f"{API}/households/{household['id']}", headers=officer).json["grade"] == "AA"


def test_village_status_is_recomputed_when_a_rating_is_confirmed(client, rural, officer, village, clock):
    households = [rural.household(officer, village) for _ in range(3)] + [rural.household(officer, village, WEAK_FACTS)]
    before = client.get(f"{API}/places/{village}/status", headers=officer).json
    assert before["credit"] is False and before["figures"]["households"] == 4
    for household in households[:2]:
        rural.rated(officer, household["id"], clock)
    half = client.get(f"{API}/places/{village}/status", headers=officer).json
    check = next(c for c in half["checks"] if c["key"] == "credit_household_share")
    assert (check["met"], check["actual"], check["margin"]) == (False, "0.5000", "-0.2000")
    rural.rated(officer, households[2]["id"], clock)
    after = client.get(f"{API}/places/{village}/status", headers=officer).json
    assert after["credit"] is True and after["stars"] == 1  # 75%: a credit village, short of 2 stars (80%)
    assert after["cycle"]["village"]["due"] == "2027-01-31"


def test_bulk_rating_proposes_for_unrated_households_and_confirms_after_notice(client, rural, officer, village, clock):
    for _ in range(5):
        rural.household(officer, village)
    assert client.post(f"{API}/ratings/proposals", headers=officer, json={}).json == {"proposed": 5, "skipped": 0}
    assert client.post(f"{API}/ratings/proposals", headers=officer, json={}).json["proposed"] == 0
    assert client.post(f"{API}/ratings/confirmations", headers=officer, json={}).json == {"confirmed": 0}
    clock.advance(days=8)
    assert client.post(f"{API}/ratings/confirmations", headers=officer.refresh(), json={}).json == {"confirmed": 5}
    listed = client.get(f"{API}/households?grade=AAA", headers=officer)
    assert len(listed.json) == 5 and '"total": 5' in listed.headers["X-Pagination"]


def test_new_scorecard_version_applies_to_new_ratings_only(client, rural, officer, village, factory):
    household = rural.household(officer, village)
    old = propose(client, officer, household["id"])
    admin = rural.admin("330283")
    body = client.get(f"{API}/scorecards/{old['scorecard_id']}", headers=admin).json["body"]
    body["bands"] = [{"grade": "AAA", "min": 95}, {"grade": "AA", "min": 85}, {"grade": "A", "min": 75}]
    published = client.post(f"{API}/scorecards", headers=admin, json={"county_code": "330283", "body": body})
    assert published.status_code == 201 and published.json["version"] == 2
    client.post(f"{API}/ratings/{old['id']}/withdrawal", headers=officer, json={})
    new = propose(client, officer, household["id"])
    assert (new["grade"], new["scorecard_version"]) == ("AA", 2)
    assert client.get(f"{API}/ratings/{old['id']}", headers=officer).json["scorecard_version"] == 1


def test_malformed_scorecard_is_a_422_naming_the_field(client, rural):
    admin = rural.admin()
    response = client.post(f"{API}/scorecards", headers=admin, json={"body": {"name": "x", "title": "x", "groups": []}})
    assert response.status_code == 422 and "body.groups" in response.json["errors"]


@pytest.mark.parametrize("change, field", [
    ({"id_number": "110105194912310021"}, "id_number"),
    ({"labourers": 9}, "labourers"),
    ({"health": "excellent"}, "health"),
    ({"assets": "-1"}, "assets"),
    ({"village_code": "330283009009"}, "village_code"),
    ({"bad_records": ["littering"]}, "bad_records"),
])
def test_bad_household_input_is_a_422_naming_the_field(client, officer, village, change, field):
    body = GOOD_FACTS | {"village_code": village, "head_name": "赵六", "id_number": make_id_number()} | change
    response = client.post(f"{API}/households", json=body, headers=officer)
    assert response.status_code == 422, response.json
    errors = response.json["errors"]
    assert field in errors


def test_the_same_person_cannot_be_filed_twice(client, rural, officer, village):
    number = make_id_number()
    rural.household(officer, village, id_number=number)
    again = client.post(f"{API}/households", headers=officer,
                        json=GOOD_FACTS | {"village_code": village, "head_name": "张三丰", "id_number": number})
    assert again.status_code == 409 and "id_number" in again.json["errors"]


def test_report_json_csv_and_county_chart(client, rural, officer, village, clock):
    rural.rated(officer, rural.household(officer, village)["id"], clock)
    report = client.get(f"{API}/places/330283/report", headers=officer).json
    assert report["total"]["figures"]["credit_households"] == 1
    assert [r["level"] for r in report["rows"]] == ["township", "village", "village"]
    csv = client.get(f"{API}/places/330283/report.csv", headers=officer)
    assert csv.mimetype == "text/csv" and csv.data.startswith("\ufeff级别,代码,名称,建档户数".encode())
    assert csv.data.decode("utf-8-sig").splitlines()[1].startswith("县,330283,奉化区,1,1,1,1,154000.00")
    chart = client.get(f"{API}/places/330283/chart.png", headers=officer)
    assert chart.status_code == 200 and chart.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"{API}/places/{village}/chart.png", headers=officer).status_code == 422


def test_a_place_name_that_looks_like_a_formula_is_plain_text_in_the_report_csv(client, rural, officer):
    admin = rural.admin()
    made = client.post(f"{API}/places", headers=admin, json={
        "code": "330283009", "name": '=HYPERLINK("http://x.example","点击")', "level": "township",
        "parent_code": "330283"})
    assert made.status_code == 201, made.json
    lines = client.get(f"{API}/places/330283/report.csv", headers=officer).data.decode("utf-8-sig").splitlines()
    row = next(line for line in lines if "330283009" in line)
    assert ",\"'=HYPERLINK(" in row  # quoted by the CSV writer, then the apostrophe: text, not a formula


def test_editing_a_household_refreshes_its_villages_figures(client, rural, officer, village):
    rural_villages = client.get(f"{API}/places?level=village", headers=officer).json
    other = next(v["code"] for v in rural_villages if v["code"] != village)
    household = rural.household(officer, village)
    moved = client.patch(f"{API}/households/{household['id']}", headers=officer, json={"village_code": other})
    assert moved.status_code == 200 and moved.json["village_code"] == other
    figures = {row["code"]: row["figures"]["households"]
               for row in client.get(f"{API}/places/330283/report", headers=officer).json["rows"]}
    assert (figures[village], figures[other]) == (0, 1)


def test_rural_api_is_documented_with_its_roles(client):
    spec = client.get("/openapi.json").json
    post = spec["paths"]["/api/v1/rural/households/{household_id}/ratings"]["post"]
    assert post["x-roles"] == ["officer"] and post["summary"].startswith("Rate a household")
    assert "/api/v1/rural/places/{code}/chart.png" in spec["paths"]


def test_policy_shows_the_cycle_thresholds_and_rates_as_data(client, officer):
    policy = client.get(f"{API}/policy", headers=officer).json
    assert policy["year"] == 2026 and policy["notice_days"] == 7
    assert {k: v["due"] for k, v in policy["cycle"].items()} == {
        "household": "2026-12-31", "village": "2027-01-31", "township": "2027-02-28", "county": "2027-02-28"}
    assert policy["rates"]["bp_by_stars"]["3"] == "237.5"
    assert client.get(f"{API}/policy?year=1999", headers=officer).status_code == 422


# --- a household that moves village -----------------------------------------------------------

def figures(client, officer, code):
    """What the village's status page shows: (households, credit households, NPL balance)."""
    f = client.get(f"{API}/places/{code}/status", headers=officer).json["figures"]
    return f["households"], f["credit_households"], f["npl_balance"]


@pytest.fixture
def two_villages(rural, village):
    return village, village[:-1] + "2"  # the factory's county has villages 001 and 002


def move(client, officer, household, village: str) -> None:
    """The officer moves the household to ``village`` (PATCH), and it is moved."""
    moved = client.patch(f"{API}/households/{household['id']}", headers=officer, json={"village_code": village})
    assert moved.status_code == 200 and moved.json["village_code"] == village, moved.json


def test_a_rating_confirmed_after_the_household_moved_counts_in_its_new_village(client, rural, officer, two_villages,
                                                                                 clock):
    old, new = two_villages
    household = rural.household(officer, old)
    rating = propose(client, officer, household["id"])
    move(client, officer, household, new)
    clock.advance(days=8)
    assert figures(client, officer.refresh(), new) == (1, 0, "0.00")  # read today, before the confirmation
    confirmed = client.post(f"{API}/ratings/{rating['id']}/confirmation", headers=officer)
    assert confirmed.status_code == 200, confirmed.json
    assert figures(client, officer, new) == (1, 1, "0.00")
    assert figures(client, officer, old) == (0, 0, "0.00")


def test_bulk_confirmation_counts_a_household_that_moved_in_its_new_village(client, rural, officer, two_villages,
                                                                            clock):
    old, new = two_villages
    household = rural.household(officer, old)
    propose(client, officer, household["id"])
    move(client, officer, household, new)
    clock.advance(days=8)
    assert figures(client, officer.refresh(), new) == (1, 0, "0.00")
    assert client.post(f"{API}/ratings/confirmations", headers=officer, json={}).json == {"confirmed": 1}
    assert figures(client, officer, new) == (1, 1, "0.00")


def test_withdrawing_a_rating_after_the_household_moved_takes_it_out_of_the_new_village(client, rural, officer,
                                                                                        two_villages, clock):
    old, new = two_villages
    household = rural.household(officer, old)
    rating = rural.rated(officer, household["id"], clock)
    move(client, officer, household, new)
    assert figures(client, officer, new) == (1, 1, "0.00")
    withdrawn = client.post(f"{API}/ratings/{rating['id']}/withdrawal", headers=officer, json={})
    assert withdrawn.status_code == 200, withdrawn.json
    assert figures(client, officer, new) == (1, 0, "0.00")


def test_rating_a_village_in_bulk_leaves_alone_a_household_that_moved_in_with_its_rating_in_notice(
        client, rural, officer, two_villages, clock):
    old, new = two_villages
    household = rural.household(officer, old)
    propose(client, officer, household["id"])
    move(client, officer, household, new)
    again = client.post(f"{API}/ratings/proposals", headers=officer, json={"village_code": new})
    assert again.json == {"proposed": 0, "skipped": 1}
    clock.advance(days=8)
    confirmed = client.post(f"{API}/ratings/confirmations", headers=officer.refresh(), json={"village_code": new})
    assert confirmed.json == {"confirmed": 1}
    assert figures(client, officer, new) == (1, 1, "0.00")


def test_a_household_that_moves_takes_its_loans_and_their_npl_to_the_new_village(client, rural, officer,
                                                                                  two_villages):
    old, new = two_villages
    number = make_id_number()
    household = rural.household(officer, old, id_number=number)
    loans = f"loan_no,id_number,amount,balance,days_overdue,issued_on\nL1,{number},50000,50000,200,2025-01-01\n"
    assert rural.upload(f"{API}/loans/imports", officer, loans).json["created"] == 1
    assert figures(client, officer, old) == (1, 0, "50000.00")
    move(client, officer, household, new)
    assert figures(client, officer, old) == (0, 0, "0.00")
    assert figures(client, officer, new) == (1, 0, "50000.00")
    assert [loan["village_code"] for loan in client.get(f"{API}/loans", headers=officer).json] == [new]


# --- input bounds -----------------------------------------------------------------------------

@pytest.mark.parametrize("change, field, reason", [
    ({"assets": "300000.129"}, "assets", "必须是金额（元，最多两位小数）"),
    ({"debts": "0.004"}, "debts", "必须是金额（元，最多两位小数）"),
    ({"deposits": "1e-30"}, "deposits", "必须是金额（元，最多两位小数）"),
    ({"land_area": "12.3456"}, "land_area", "必须是面积（亩，最多两位小数）"),
    ({"land_area": "1e-1000000"}, "land_area", "必须是面积（亩，最多两位小数）"),
])
def test_household_money_and_land_with_more_than_two_decimals_are_refused_not_rounded(client, rural, officer,
                                                                                      village, change, field, reason):
    body = GOOD_FACTS | {"village_code": village, "head_name": "钱八", "id_number": make_id_number()}
    filed = client.post(f"{API}/households", headers=officer, json=body | change)
    assert filed.status_code == 422 and filed.json["errors"] == {field: [reason]}
    household = rural.household(officer, village)
    patched = client.patch(f"{API}/households/{household['id']}", headers=officer, json=change)
    assert patched.status_code == 422 and patched.json["errors"] == {field: [reason]}
    stored = client.get(f"{API}/households/{household['id']}", headers=officer).json
    assert stored[field] == GOOD_FACTS[field] or Decimal(stored[field]) == Decimal(GOOD_FACTS[field])


def test_household_money_with_two_decimals_is_kept_as_sent(client, rural, officer, village):
    household = rural.household(officer, village, {"assets": "300000.13", "land_area": "12.5"})
    stored = client.get(f"{API}/households/{household['id']}", headers=officer).json
    assert (Decimal(stored["assets"]), Decimal(stored["land_area"])) == (Decimal("300000.13"), Decimal("12.5"))


@pytest.mark.parametrize("path, value, field, reason", [
    (("groups", 2, "max"), "1e999999999", "body.groups[2].max", "应在 -999 到 999 之间"),
    (("groups", 2, "indicators", 0, "options", "clean", "points"), "1e999999999",
     "body.groups[2].indicators[0].options.clean.points", "应在 -999 到 999 之间"),
    (("adjustments", 0, "points"), "9e999999", "body.adjustments[0].points", "应在 -999 到 999 之间"),
    (("adjustments", 0, "points"), "2.125", "body.adjustments[0].points", "最多 2 位小数"),
    (("groups", 1, "indicators", 0, "bands", 0, "min"), "1e1000000", "body.groups[1].indicators[0].bands[0].min",
     "应在 -100000000000 到 100000000000 之间"),
    (("vetoes", 0, "key"), "bad_credit_record_in_the_central_bank_system", "body.vetoes[0].key",
     "不超过 32 个字符"),
])
def test_a_scorecard_with_numbers_or_keys_no_rating_can_hold_is_a_422_naming_the_field(client, rural, officer,
                                                                                          village, path, value,
                                                                                          field, reason):
    admin = rural.admin("330283")
    body = load_scorecard_file() | {"name": "county-2027"}
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    published = client.post(f"{API}/scorecards", headers=admin, json={"county_code": "330283", "body": body})
    assert published.status_code == 422 and published.json["errors"] == {field: [reason]}
    vetoed = rural.household(officer, village, {"credit_record": "bad", "honours": 2})
    assert propose(client, officer, vetoed["id"])["scorecard"] == "xian-2018"  # the default still rates

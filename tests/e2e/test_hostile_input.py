"""Hostile input answers a 4xx that names the field, never a 500 (found by fuzzing the API with schemathesis)."""

from __future__ import annotations

import io
import json

import pytest

from tests.rural_factories import GOOD_FACTS, HOUSEHOLD_HEADER, RuralFactory, csv_line, make_id_number

HUGE = 10**20  # past a signed 64-bit integer: SQLite's driver raises OverflowError, PostgreSQL's bigint overflows


@pytest.fixture
def who(factory):
    rf = RuralFactory(factory)
    village = rf.county("330283")[0]
    return {"rf": rf, "village": village, "admin": factory.as_admin(), "taxpayer": factory.as_taxpayer("A")[1],
            "clerk": factory.as_clerk(), "officer": rf.officer("330283"), "rural_admin": rf.admin("330283")}


def _assert_names(response, field: str, status: int = 422) -> None:
    assert response.status_code == status, response.json
    assert set(response.json) == {"code", "status", "message", "errors"} and field in response.json["errors"]


@pytest.mark.parametrize("role,method,path", [
    ("admin", "get", f"/api/v1/policies/{HUGE}"),
    ("admin", "post", f"/api/v1/policies/{HUGE}/publish"),
    ("taxpayer", "get", f"/api/v1/me/inbox/{HUGE}"),
    ("taxpayer", "get", f"/api/v1/me/inbox/{2**63}"),
    ("admin", "get", f"/api/v1/policies/{2**31}"),
    ("taxpayer", "post", f"/api/v1/me/inbox/{HUGE}/read"),
    ("officer", "get", f"/api/v1/rural/households/{HUGE}"),
    ("officer", "get", f"/api/v1/rural/households/{HUGE}/ratings"),
    ("officer", "post", f"/api/v1/rural/ratings/{HUGE}/confirmation"),
    ("officer", "post", f"/api/v1/rural/ratings/1/objections/{HUGE}/resolution"),
    ("rural_admin", "get", f"/api/v1/rural/ratings/{HUGE}"),
    ("rural_admin", "get", f"/api/v1/rural/scorecards/{HUGE}"),
])
def test_a_path_id_past_64_bits_is_not_found(client, who, role, method, path):
    response = getattr(client, method)(path, headers=who[role], json={})
    assert response.status_code == 404 and response.json["code"] == 404


@pytest.mark.parametrize("role,path", [
    ("admin", "/api/v1/policies"),
    ("officer", "/api/v1/rural/households"),
    ("officer", "/api/v1/rural/ratings"),
    ("officer", "/api/v1/rural/loans"),
    ("rural_admin", "/api/v1/rural/places"),
    ("rural_admin", "/api/v1/rural/scorecards"),
    ("taxpayer", "/api/v1/me/inbox"),
    ("taxpayer", "/api/v1/me/verifications"),
    ("clerk", "/api/v1/verifications"),
])
def test_a_page_past_the_deepest_page_answers_422_naming_page(client, who, role, path):
    _assert_names(client.get(f"{path}?page={HUGE}", headers=who[role]), "page")
    assert client.get(f"{path}?page=100000", headers=who[role]).status_code == 200
    assert client.get(f"{path}?page=%C2%B2", headers=who[role]).status_code == 422  # "²" is a digit to str.isdigit


@pytest.mark.parametrize("path", ["/api/v1/rural/loans", "/api/v1/rural/ratings"])
def test_a_household_filter_past_64_bits_answers_422(client, who, path):
    _assert_names(client.get(f"{path}?household_id={HUGE}", headers=who["officer"]), "household_id")


def test_a_nul_character_in_query_path_or_json_answers_422_naming_the_field(client, who):
    _assert_names(client.get("/api/v1/rural/households?name=%E5%BC%A0%00", headers=who["officer"]), "name")
    _assert_names(client.get("/api/v1/rural/places/330283%00/status", headers=who["officer"]), "code")
    policy = {"title": "标题\u0000", "body": "正文", "category": "tax_relief", "rule": True}
    _assert_names(client.post("/api/v1/policies", headers=who["admin"], json=policy), "title")
    rule = {"in": ["x\u0000", {"var": "tags"}]}
    _assert_names(client.post("/api/v1/policies", headers=who["admin"], json=policy | {"title": "标题", "rule": rule}),
                  "rule.in[0]")
    place = {"code": "330283009", "name": "坏\u0000镇", "level": "township", "parent_code": "330283"}
    _assert_names(client.post("/api/v1/rural/places", headers=who["rural_admin"], json=place), "name")


@pytest.mark.parametrize("depth", [40, 100_000])
def test_json_nested_too_deeply_answers_422(client, who, depth):
    deep = "[" * depth + "]" * depth
    verify = client.post("/api/v1/verifications", headers=who["clerk"], data=deep, content_type="application/json")
    _assert_names(verify, "json")
    rule = '{"!": ' * depth + "true" + "}" * depth
    body = f'{{"title": "深层", "body": "规则", "category": "tax_relief", "rule": {rule}}}'
    _assert_names(client.post("/api/v1/policies", headers=who["admin"], data=body,
                              content_type="application/json"), "rule" if depth < 1000 else "json")


@pytest.mark.parametrize("role,path", [
    (None, "/api/v1/auth/token"), (None, "/api/v1/auth/refresh"), (None, "/api/v1/auth/logout"),
    ("clerk", "/api/v1/verifications"), ("admin", "/api/v1/policies"),
])
def test_an_integer_longer_than_python_reads_answers_422_naming_json(client, who, role, path):
    body = '{"username": "x", "password": "y", "token": "t", "n": ' + "1" * 5000 + "}"
    _assert_names(client.post(path, headers=who[role] if role else {}, data=body, content_type="application/json"),
                  "json")
    malformed = client.post(path, headers=who[role] if role else {}, data='{"n": 1', content_type="application/json")
    _assert_names(malformed, "json", 400)  # bad syntax is still the body parser's to answer, as before


def test_a_rule_of_ordinary_depth_is_still_accepted(client, who):
    rule = {"!": {"!": {"and": [{"or": [{"==": [{"var": "grade"}, "A"]}]}]}}}
    body = {"title": "正常", "body": "规则", "category": "tax_relief", "rule": rule}
    assert client.post("/api/v1/policies", headers=who["admin"], json=body).status_code == 201


def test_item_errors_and_a_list_error_together_answer_422_with_string_keys(client, who, factory):
    uscc = factory.taxpayer("B")
    response = client.put(f"/api/v1/taxpayers/{uscc}/tags", headers=who["admin"], json={"tags": ["ok", "ok", "BAD"]})
    _assert_names(response, "tags")
    assert set(response.json["errors"]["tags"]) == {"2", "_schema"}


def test_decimal_bounds_are_documented_as_numbers(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    bounds = [(name, field, prop[key]) for name, schema in schemas.items()
              for field, prop in schema.get("properties", {}).items() for key in ("minimum", "maximum") if key in prop]
    assert bounds and all(isinstance(value, (int, float)) for _n, _f, value in bounds), bounds
    assert schemas["HouseholdCreate"]["properties"]["annual_income"]["maximum"] == 10**11


def _upload(client, path: str, headers: dict[str, str], data: bytes):
    return client.post(path, headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), "grades.csv")})


def test_a_grades_csv_with_bare_carriage_returns_is_read_line_by_line(client, who, factory):
    uscc = factory.taxpayer("B")
    report = _upload(client, "/api/v1/grades/imports", who["admin"],
                     f"uscc,name,grade,year\r{uscc},宁波海曙云帆贸易有限公司,A,2025\r".encode())
    assert report.status_code == 201 and report.json["changed"] == 1, report.json


@pytest.mark.parametrize("data,reason", [
    (b"uscc,name,grade,year\n91330200MA2XXXXXX7," + b"x" * 200_000 + b",A,2025\n", "line 2: field larger"),
    (b'uscc,name,grade,year\n91330200MA2XXXXXX7,"a\x00b",A,2025\n', "NUL character (line 2)"),
])
def test_a_grades_csv_the_reader_cannot_take_answers_422_naming_file(client, who, data, reason):
    response = _upload(client, "/api/v1/grades/imports", who["admin"], data)
    _assert_names(response, "file")
    assert reason in response.json["errors"]["file"][0]


def test_grades_csv_region_and_industry_longer_than_their_columns_are_bad_lines(client, who, factory):
    uscc = factory.taxpayer("B")
    data = f"uscc,name,grade,year,region,industry\n{uscc},某公司,A,2025,3302830010011,C13110001\n".encode()
    report = _upload(client, "/api/v1/grades/imports", who["admin"], data).json
    assert report["rejected"] == 1 and set(report["errors"][0]["errors"]) == {"region", "industry"}


def test_a_households_csv_with_bare_carriage_returns_or_nul_is_handled(client, who):
    path, officer, village = "/api/v1/rural/households/imports", who["officer"], who["village"]
    text = HOUSEHOLD_HEADER + "\r" + csv_line(village, "王五", make_id_number()) + "\r"
    assert who["rf"].upload(path, officer, text).json["created"] == 1
    nul = HOUSEHOLD_HEADER + "\n" + csv_line(village, "王\x00六", make_id_number()) + "\n"
    _assert_names(who["rf"].upload(path, officer, nul), "file")


def test_an_upload_named_with_a_nul_character_is_imported(client, who, factory):
    uscc = factory.taxpayer("B")
    response = client.post("/api/v1/grades/imports", headers=who["admin"], content_type="multipart/form-data",
                           data={"file": (io.BytesIO(f"uscc,name,grade,year\n{uscc},某公司,A,2025\n".encode()),
                                          "a\x00b.csv")})
    assert response.status_code == 201, response.json


def test_blank_place_and_head_names_answer_422(client, who):
    place = {"code": "330283009", "name": "   ", "level": "township", "parent_code": "330283"}
    _assert_names(client.post("/api/v1/rural/places", headers=who["rural_admin"], json=place), "name")
    body = GOOD_FACTS | {"village_code": who["village"], "head_name": "  ", "id_number": make_id_number()}
    _assert_names(client.post("/api/v1/rural/households", headers=who["officer"], json=body), "head_name")
    # not blank: a name typed after a stray space is filed (trimmed), not refused as "blank"
    filed = client.post("/api/v1/rural/households", headers=who["officer"], json=body | {"head_name": " 张三"})
    assert filed.status_code == 201 and filed.json["head_name"].startswith("张")


def test_openapi_patterns_are_ones_every_client_reads_the_same_way(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    patterns = [p for schema in schemas.values() for field in schema.get("properties", {}).values()
                for p in (field.get("pattern"), (field.get("items") or {}).get("pattern")) if p]
    assert patterns and not [p for p in patterns if "\\Z" in p or "\\A" in p or "(?" in p]  # ECMA-262 has none


def test_numbers_sent_as_strings_are_read_and_bad_ones_named(client, who):
    body = GOOD_FACTS | {"village_code": who["village"], "head_name": "赵七", "id_number": make_id_number(),
                         "members": "4", "assets": "300000.00"}
    assert client.post("/api/v1/rural/households", headers=who["officer"], json=body).status_code == 201
    bad = body | {"id_number": make_id_number(), "assets": "1e999", "members": "四"}
    response = client.post("/api/v1/rural/households", headers=who["officer"], json=bad)
    _assert_names(response, "assets")
    assert "members" in response.json["errors"]
    assert json.loads(json.dumps(response.json))  # plain JSON all the way down


@pytest.mark.parametrize("field,value", [
    ("valid_from", "0001-01-01T00:00:00"), ("valid_to", "9999-12-31T23:59:59-12:00"), ("valid_from", "10000-01-01"),
])
def test_policy_dates_outside_the_calendar_answer_422_naming_the_field(client, who, field, value):
    body = {"title": "边界", "body": "日期", "category": "tax_relief", "rule": True, field: value}
    _assert_names(client.post("/api/v1/policies", headers=who["admin"], json=body), field)
    created = client.post("/api/v1/policies", headers=who["admin"], json={**body, field: None} if field == "valid_to"
                          else {k: v for k, v in body.items() if k != field}).json
    _assert_names(client.patch(f"/api/v1/policies/{created['id']}", headers=who["admin"], json={field: value}), field)


def test_a_loan_dated_before_1900_is_a_bad_line_not_a_500(client, who):
    rf, officer = who["rf"], who["officer"]
    number = make_id_number()
    rf.household(officer, who["village"], id_number=number)
    loans = (f"loan_no,id_number,amount,balance,days_overdue,issued_on,as_of\n"
             f"X1,{number},1000,500,100,0001-01-01,0001-01-02\n")
    report = rf.upload("/api/v1/rural/loans/imports", officer, loans)
    assert report.status_code == 201 and report.json["created"] == 0, report.json
    assert set(report.json["errors"][0]["errors"]) == {"issued_on", "as_of"}


@pytest.mark.parametrize("role,path,body,field", [
    ("clerk", "/api/v1/verifications", '{"token": "eyJ\\ud800"}', "token"),
    (None, "/api/v1/auth/token", '{"username": "admin\\udfff", "password": "x"}', "username"),
    (None, "/api/v1/auth/refresh", '{"refresh_token": "eyJ\\udfff"}', "refresh_token"),
    (None, "/api/v1/auth/logout", '{"refresh_token": "eyJ\\u0000"}', "refresh_token"),
    ("admin", "/api/v1/policies", '{"title": "\\ud83d", "body": "正文", "category": "tax_relief", "rule": true}',
     "title"),
    ("admin", "/api/v1/policies", ('{"title": "标题", "body": "正文", "category": "tax_relief", "rule": true, '
                                   '"\\ud800": 1}'), "json"),
])
def test_a_lone_surrogate_in_json_answers_422_naming_the_field(client, who, role, path, body, field):
    response = client.post(path, headers=who[role] if role else {}, data=body, content_type="application/json")
    _assert_names(response, field)


def test_a_real_emoji_is_still_fine(client, who):
    body = {"title": "优惠 🎉", "body": "正文", "category": "tax_relief", "rule": True}
    assert client.post("/api/v1/policies", headers=who["admin"], json=body).status_code == 201


def test_ids_at_the_edge_of_their_columns_are_simply_not_found(client, who):
    assert client.get(f"/api/v1/policies/{2**31 - 1}", headers=who["admin"]).status_code == 404
    assert client.get(f"/api/v1/rural/households/{2**31 - 1}", headers=who["officer"]).status_code == 404
    assert client.get(f"/api/v1/rural/loans?household_id={2**31 - 1}", headers=who["officer"]).json == []
    _assert_names(client.get(f"/api/v1/rural/loans?household_id={2**31}", headers=who["officer"]), "household_id")
    for delivery_id in (2**31, 2**63 - 1):  # deliveries have BIGINT keys
        assert client.get(f"/api/v1/me/inbox/{delivery_id}", headers=who["taxpayer"]).status_code == 404


def test_a_caller_the_route_turns_away_learns_nothing_about_its_input(client, who):
    # The role check answers first: no token 401, another role 403; only the admitted role hears 422.
    bad = {"token": "x\u0000"}
    assert client.post("/api/v1/verifications", json=bad).status_code == 401
    nonsense = {"Authorization": "Bearer nonsense"}
    assert client.post("/api/v1/verifications", json=bad, headers=nonsense).status_code == 401
    assert client.post("/api/v1/verifications", json=bad, headers=who["taxpayer"]).status_code == 403
    _assert_names(client.post("/api/v1/verifications", json=bad, headers=who["clerk"]), "token")
    assert client.get(f"/api/v1/policies?page={10**9}").status_code == 401
    # An open route has no one to turn away: the log-in still names the field.
    _assert_names(client.post("/api/v1/auth/token", json={"username": "a\u0000", "password": "x"}), "username")


def test_every_route_behind_a_bearer_token_declares_its_roles_to_the_guard(app):
    # The guard finds the roles through the outer decorators (flask-smorest's keep the view's __dict__).
    from app.auth import roles_of

    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            target = getattr(view_class, method.lower(), None) if view_class else view
            documented = getattr(target, "_apidoc", {}).get("manual_doc", {}).get("security")
            if documented:
                assert roles_of(target), (rule.rule, method)
                checked += 1
    assert checked > 30

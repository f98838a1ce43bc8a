"""Tax-bureau staff change grades during the year and bulk-load the annual evaluation."""

from __future__ import annotations

import io

import pytest

from tests.factories import make_uscc


def _upload(client, headers, text: str | bytes, filename: str = "grades.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return client.post("/api/v1/grades/imports", headers=headers,
                       data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def test_import_applies_good_rows_and_reports_each_bad_one(factory, client):
    admin = factory.as_admin()
    good1, good2 = make_uscc(1), make_uscc(2)
    bad_check = make_uscc(3)[:-1] + ("0" if make_uscc(3)[-1] != "0" else "1")
    csv = "\n".join([
        "uscc,name,grade,year,score,state,region,industry,registered_on,size",
        f"{good1},宁波甲贸易有限公司,A,2025,92,,330203,5191,2015-01-02,small",
        f"{bad_check},宁波乙有限公司,B,2025,,,,,,",
        f"{good2},宁波丙有限公司,C,2025,,,,,,",
        f"{make_uscc(4)},宁波丁有限公司,E,2025,,,,,,",
        f"{make_uscc(5)},宁波戊有限公司,A,2025,75,,,,,",
        f"{make_uscc(6)},,B,20x5,,,,,2025-02-30,huge",
        f"{good1},宁波甲贸易有限公司,A,2025,92,,,,,",
    ]) + "\n"
    response = _upload(client, admin, csv)
    assert response.status_code == 201
    report = response.json
    assert (report["rows"], report["created"], report["rejected"]) == (7, 2, 5)
    by_line = {e["line"]: e["errors"] for e in report["errors"]}
    assert sorted(by_line) == [3, 5, 6, 7, 8]
    assert "check character" in by_line[3]["uscc"][0]
    assert by_line[5] == {"grade": ["must be one of A, B, M, C, D"]}
    assert "band B" in by_line[6]["score"][0]
    assert set(by_line[7]) == {"name", "year", "registered_on", "size"}
    assert by_line[8] == {"uscc": ["duplicate of line 2"]}
    detail = client.get(f"/api/v1/taxpayers/{good1}", headers=admin).json
    assert (detail["grade"], detail["color"], detail["region_code"], detail["size_class"]) == ("A", "gold", "330203", "small")


def test_reimporting_the_same_file_changes_nothing(factory, client):
    admin = factory.as_admin()
    csv = "\ufeffuscc,name,grade,year\n" + "".join(f"{make_uscc(n)},企业{n}有限公司,B,2025\n" for n in range(10, 20))
    first = _upload(client, admin, csv).json
    second = _upload(client, admin, csv).json
    assert (first["created"], first["changed"]) == (10, 0)
    assert (second["created"], second["changed"], second["unchanged"]) == (0, 0, 10)
    history = client.get(f"/api/v1/taxpayers/{make_uscc(10)}", headers=admin).json["history"]
    assert len(history) == 1


def test_import_of_an_older_year_does_not_override_a_newer_grade(factory, client):
    admin = factory.as_admin()
    uscc = make_uscc(30)
    _upload(client, admin, f"uscc,name,grade,year\n{uscc},企业有限公司,A,2025\n")
    report = _upload(client, admin, f"uscc,name,grade,year\n{uscc},企业有限公司,D,2024\n").json
    assert (report["changed"], report["skipped"]) == (0, 1)
    assert client.get(f"/api/v1/taxpayers/{uscc}", headers=admin).json["grade"] == "A"


def test_rerunning_the_annual_file_does_not_undo_a_d_given_during_the_year(factory, client, clock):
    admin = factory.as_admin()
    uscc = make_uscc(31)
    annual = f"uscc,name,grade,year\n{uscc},企业有限公司,B,2025\n"
    _upload(client, admin, annual)
    clock.advance(minutes=5)
    client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=admin, json={"grade": "D", "year": 2025, "reason": "直接判级"})
    clock.advance(minutes=5)
    again = _upload(client, admin, annual).json
    assert (again["changed"], again["skipped"], again["rejected"]) == (0, 1, 0)
    assert [(h["line"], h["uscc"]) for h in again["held"]] == [(2, uscc)]
    assert client.get(f"/api/v1/taxpayers/{uscc}", headers=admin).json["color"] == "red"
    clock.advance(minutes=5)  # next year's evaluation is a new judgement: it applies
    assert _upload(client, admin, f"uscc,name,grade,year\n{uscc},企业有限公司,B,2026\n").json["changed"] == 1
    assert client.get(f"/api/v1/taxpayers/{uscc}", headers=admin).json["color"] == "silver"


def test_a_direct_d_given_while_the_import_reads_its_chunk_is_not_overwritten_by_the_file(factory, client, app,
                                                                                       monkeypatch):
    from app.services import services
    from app.taxpayers import importer
    from app.taxpayers.domain import Grade, State
    from app.taxpayers.service import change_grade

    admin = factory.as_admin()
    uscc = factory.taxpayer("B")
    real = importer._last_set_by_hand

    def d_given_meanwhile(session, usccs):  # type: ignore[no-untyped-def]
        found = real(session, usccs)  # the chunk has read the row (B) and decided to apply the file's C
        with app.app_context():
            s = services()
            change_grade(uscc, grade=Grade.D, state=State.NORMAL, score=None, year=2025, reason="直接判级",
                         changed_by="admin2", uow=s.uow(), cache=s.status_cache, clock=s.clock)
        return found

    monkeypatch.setattr(importer, "_last_set_by_hand", d_given_meanwhile)
    report = _upload(client, admin, f"uscc,name,grade,year\n{uscc},宁波海曙云帆贸易有限公司,C,2025\n").json
    assert (report["changed"], report["skipped"]) == (0, 1)
    assert [(h["line"], h["uscc"]) for h in report["held"]] == [(2, uscc)]
    detail = client.get(f"/api/v1/taxpayers/{uscc}", headers=admin).json
    assert detail["grade"] == "D" and [h["grade"] for h in detail["history"]] == ["D", "B"]  # no record of the C


def test_import_of_a_new_grade_shows_in_the_next_code(factory, client):
    uscc, headers = factory.as_taxpayer("A")
    assert client.get("/api/v1/me/code", headers=headers).json["color"] == "gold"
    report = _upload(client, factory.as_admin(), f"uscc,name,grade,year\n{uscc},宁波海曙云帆贸易有限公司,C,2026\n").json
    assert report["changed"] == 1
    assert client.get("/api/v1/me/code", headers=headers).json["color"] == "blue"


@pytest.mark.parametrize("content,reason", [
    (b"\xff\xfe\x00bad", "is not UTF-8 text"),
    (b"", "is empty"),
    (b"uscc,grade\n", "header lacks required column(s): name, year"),
])
def test_unusable_file_is_rejected_with_the_reason(factory, client, content, reason):
    response = _upload(client, factory.as_admin(), content)
    assert response.status_code == 422 and reason in response.json["errors"]["file"][0]


def test_import_without_file_field_names_it(factory, client):
    response = client.post("/api/v1/grades/imports", headers=factory.as_admin(), data={},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "file" in response.json["errors"]


def test_grade_change_validates_uscc_and_rules(factory, client):
    admin = factory.as_admin()
    uscc = factory.taxpayer("B")
    bad = client.put("/api/v1/taxpayers/91350100M000100Y44/grade", headers=admin,
                     json={"grade": "A", "year": 2025, "reason": "复评结果"})
    assert bad.status_code == 422 and "check character" in bad.json["errors"]["uscc"][0]
    unknown = client.put("/api/v1/taxpayers/91350100M000100Y43/grade", headers=admin,
                         json={"grade": "A", "year": 2025, "reason": "复评结果"})
    assert unknown.status_code == 404
    for body, field in (({"grade": "A", "year": 2025, "score": "50", "reason": "复评"}, "score"),
                        ({"grade": "A", "state": "unrated", "year": 2025, "reason": "复评"}, "grade"),
                        ({"grade": "A", "year": 2031, "reason": "复评"}, "year"),
                        ({"grade": "Z", "year": 2025, "reason": "复评"}, "grade")):
        response = client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=admin, json=body)
        assert response.status_code == 422, body
        assert field in response.json["errors"], (body, response.json)


def test_grade_history_keeps_every_change_newest_first(factory, client, clock):
    admin = factory.as_admin()
    uscc = factory.taxpayer("B")
    clock.advance(minutes=10)
    client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=admin, json={"grade": "D", "year": 2026, "reason": "直接判级"})
    clock.advance(minutes=20)
    client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=admin,
               json={"grade": "C", "year": 2026, "score": "65", "reason": "信用修复"})
    detail = client.get(f"/api/v1/taxpayers/{uscc}", headers=admin).json
    assert [(h["grade"], h["source"]) for h in detail["history"]] == [("C", "manual"), ("D", "manual"), ("B", "import")]
    assert detail["history"][0]["changed_by"].startswith("tax_admin")
    assert (detail["grade"], detail["score"]) == ("C", "65.00")

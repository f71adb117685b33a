"""The organisation tree through the API: load, create, rename, move, close; refusals change nothing."""

from __future__ import annotations

from service.domain.access import Role

URL = "/api/v1/org-units"


def _codes(client, headers, **params) -> list[str]:
    return [unit["code"] for unit in client.get(URL, headers=headers, params=params).json()]


def test_bulk_load_creates_the_tree_parents_first(client, admin, org):
    units = client.get(URL, headers=admin).json()
    assert len(units) == 16
    by_code = {unit["code"]: unit for unit in units}
    assert by_code["SOC-ALD-1"]["parent_id"] == org["SOC-ALD"]
    assert by_code["SOC-ALD"]["parent_id"] == org["SOC"]
    assert by_code["SOC"]["kind"] == "administration" and by_code["SOC"]["parent_id"] is None
    assert all(unit["active"] for unit in units)


def test_loading_the_same_file_again_changes_nothing(client, admin, org):
    rows = [{"code": "SOC", "name": "Socialförvaltningen", "kind": "administration", "valid_from": "2020-01-01"}]
    response = client.post(f"{URL}/import", json={"units": rows}, headers=admin)
    assert response.status_code == 200
    assert response.json() == {"created": [], "extended": [], "unchanged": ["SOC"]}


def test_bulk_load_from_csv_with_semicolons_and_bom(client, admin):
    csv_text = (
        "\ufeffcode;name;kind;parent_code;valid_from;valid_to\n"
        "E-1;Hemtjänst Öst;unit;AVD;2024-01-01;\n"  # child before its parent: order does not matter
        "AVD;Äldreomsorg;department;FV;2024-01-01;\n"
        "FV;Vård- och omsorgsförvaltningen;administration;;2024-01-01;\n"
    )
    response = client.post(f"{URL}/import", content=csv_text.encode(), headers={**admin, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert [unit["code"] for unit in response.json()["created"]] == ["FV", "AVD", "E-1"]
    assert "Hemtjänst Öst" in [unit["name"] for unit in client.get(URL, headers=admin).json()]


def test_bulk_load_refuses_a_cycle_unknown_parent_and_duplicates_writing_nothing(client, admin, org):
    cases = {
        "cycle": [
            {"code": "X", "name": "X", "kind": "department", "parent_code": "Y"},
            {"code": "Y", "name": "Y", "kind": "department", "parent_code": "X"},
        ],
        "unknown parent": [
            {"code": "N-1", "name": "Ny", "kind": "unit", "parent_code": "SOC-ALD"},
            {"code": "N-2", "name": "Ny", "kind": "unit", "parent_code": "NO-SUCH"},
        ],
        "duplicate": [
            {"code": "N-1", "name": "Ny", "kind": "unit", "parent_code": "SOC-ALD"},
            {"code": "N-1", "name": "Ny igen", "kind": "unit", "parent_code": "SOC-ALD"},
        ],
        "existing code with other data": [
            {"code": "N-1", "name": "Ny", "kind": "unit", "parent_code": "SOC-ALD"},
            {"code": "SOC-ALD-1", "name": "Annat namn", "kind": "unit", "parent_code": "SOC-ALD"},
        ],
    }
    expected_pointer = {"cycle": "/units/", "unknown parent": "/units/1/parent_code",
                        "duplicate": "/units/1/code", "existing code with other data": "/units/1/code"}
    for label, rows in cases.items():
        response = client.post(f"{URL}/import", json={"units": rows}, headers=admin)
        assert response.status_code in (409, 422), label
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["pointer"].startswith(expected_pointer[label]), label
    assert len(client.get(URL, headers=admin).json()) == 16


def test_create_rename_move_close(client, admin, org):
    created = client.post(URL, json={"code": "SOC-ALD-5", "name": "Hemtjänst Syd", "kind": "unit",
                                     "parent_id": org["SOC-ALD"]}, headers=admin)
    assert created.status_code == 201, created.text
    unit = created.json()
    assert created.headers["location"].endswith(f"/org-units/{unit['id']}")
    assert unit["valid_from"] == "2026-03-10"  # today, by the injected clock

    renamed = client.patch(f"{URL}/{unit['id']}", json={"name": "Hemtjänst Söder"}, headers=admin)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Hemtjänst Söder"

    moved = client.post(f"{URL}/{unit['id']}/move", json={"parent_id": org["SOC-FUN"]}, headers=admin)
    assert moved.status_code == 200 and moved.json()["parent_id"] == org["SOC-FUN"]
    assert "SOC-ALD-5" in _codes(client, admin, under=org["SOC-FUN"])
    assert "SOC-ALD-5" not in _codes(client, admin, under=org["SOC-ALD"])

    closed = client.post(f"{URL}/{unit['id']}/close", json={"valid_to": "2026-06-30"}, headers=admin)
    assert closed.status_code == 200 and closed.json()["valid_to"] == "2026-06-30"
    assert "SOC-ALD-5" not in _codes(client, admin, active_on="2026-07-01")
    assert "SOC-ALD-5" in _codes(client, admin, active_on="2026-06-30")


def test_moving_a_department_moves_its_subtree(client, admin, org):
    second = client.post(URL, json={"code": "VOF", "name": "Vård- och omsorgsförvaltningen",
                                    "kind": "administration"}, headers=admin).json()
    response = client.post(f"{URL}/{org['SOC-ALD']}/move", json={"parent_id": second["id"]}, headers=admin)
    assert response.status_code == 200
    assert set(_codes(client, admin, under=second["id"])) == {"VOF", "SOC-ALD", "SOC-ALD-1", "SOC-ALD-2",
                                                              "SOC-ALD-3", "SOC-ALD-4"}
    assert "SOC-ALD-1" not in _codes(client, admin, under=org["SOC"])


def test_refusals(client, admin, org):
    attempts = [
        ("post", URL, {"code": "SOC-ALD-1", "name": "Dubblett", "kind": "unit", "parent_id": org["SOC-ALD"]},
         409, "/code"),
        ("post", URL, {"code": "soc-ald-1", "name": "Dubblett", "kind": "unit", "parent_id": org["SOC-ALD"]},
         409, "/code"),
        ("post", URL, {"code": "E-9", "name": "Enhet", "kind": "unit", "parent_id": 999999}, 422, "/parent_id"),
        ("post", URL, {"code": "E-9", "name": "Enhet", "kind": "unit", "parent_id": org["SOC"]}, 422, "/parent_id"),
        ("post", URL, {"code": "E 9", "name": "Enhet", "kind": "unit", "parent_id": org["SOC-ALD"]}, 422, "/code"),
        ("post", f"{URL}/{org['SOC-ALD']}/move", {"parent_id": org["SOC-ALD-1"]}, 409, "/parent_id"),  # cycle
        ("post", f"{URL}/{org['SOC-ALD-1']}/move", {"parent_id": org["SOC"]}, 422, "/parent_id"),  # wrong kind
        ("post", f"{URL}/{org['SOC-ALD']}/close", {"valid_to": "2026-12-31"}, 409, "/valid_to"),
        ("post", f"{URL}/{org['SOC-ALD-1']}/close", {"valid_to": "2019-12-31"}, 422, "/valid_to"),
    ]
    before = client.get(URL, headers=admin).json()
    for method, url, body, status, pointer in attempts:
        response = getattr(client, method)(url, json=body, headers=admin)
        assert response.status_code == status, (url, body, response.text)
        assert response.json()["errors"][0]["pointer"] == pointer, (url, body)
    assert client.get(URL, headers=admin).json() == before


def test_only_admins_change_the_organisation_but_everyone_signed_in_reads_it(client, users, org):
    investigator = users.headers(Role.investigator, "SOC")
    assert client.get(URL, headers=investigator).status_code == 200
    response = client.post(URL, json={"code": "X", "name": "X", "kind": "administration"}, headers=investigator)
    assert response.status_code == 403
    response = client.post(f"{URL}/import", json={"units": [{"code": "X", "name": "X", "kind": "administration"}]},
                           headers=investigator)
    assert response.status_code == 403


def test_an_admin_of_one_department_cannot_touch_another(client, users, org):
    local_admin = users.headers(Role.admin, "SOC-ALD")
    ok = client.post(URL, json={"code": "SOC-ALD-9", "name": "Ny", "kind": "unit", "parent_id": org["SOC-ALD"]},
                     headers=local_admin)
    assert ok.status_code == 201
    refused = client.post(URL, json={"code": "SOC-FUN-9", "name": "Ny", "kind": "unit", "parent_id": org["SOC-FUN"]},
                          headers=local_admin)
    assert refused.status_code == 403
    assert client.post(f"{URL}/{org['SOC-ALD-1']}/move", json={"parent_id": org["SOC-FUN"]},
                       headers=local_admin).status_code == 403


def test_unknown_unit_is_404(client, admin, org):
    response = client.get(f"{URL}/999999", headers=admin)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_a_move_and_a_rename_dated_tomorrow_take_effect_tomorrow(client, users, clock, admin, org):
    """Access follows the tree as it stands today; a change dated in the future is stored until its day."""
    reports = "/api/v1/reports"
    elder_care = users.headers(Role.investigator, "SOC-ALD", subject="alva")
    disability = users.headers(Role.investigator, "SOC-FUN", subject="fred")
    reporter = users.headers(Role.reporter, "SOC-ALD", subject="rut")
    elder_admin = users.headers(Role.admin, "SOC-ALD", subject="adam")
    disability_admin = users.headers(Role.admin, "SOC-FUN", subject="fia")
    body = {"units": ["SOC-ALD-1"], "occurred_at": "2026-03-09T18:30:00+01:00",
            "noticed_at": "2026-03-09T19:00:00+01:00", "description": "Fel läkemedel.", "immediate_actions": "",
            "no_specific_subject": True, "category": "medication"}
    case_id = client.post(reports, json=body, headers=reporter).json()["id"]
    unit = f"{URL}/{org['SOC-ALD-1']}"

    moved = client.post(f"{unit}/move", json={"parent_id": org["SOC-FUN"], "effective_date": "2026-03-11"},
                        headers=admin)
    assert moved.status_code == 200 and moved.json()["parent_id"] == org["SOC-ALD"], moved.text
    renamed = client.patch(unit, json={"name": "Hemtjänst Funktion", "effective_date": "2026-03-11"}, headers=admin)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Hemtjänst Centrum", renamed.text

    def listed(headers) -> list[str]:
        return [item["id"] for item in client.get(reports, headers=headers).json()["items"]]

    def grant_on_the_unit(headers):
        return client.post("/api/v1/grants", json={"subject": "nina", "role": "reporter", "unit_code": "SOC-ALD-1"},
                           headers=headers)

    def assess(headers):
        return client.post(f"{reports}/{case_id}/assessments", headers=headers, json={
            "types": [{"type": "other_deviation"}], "justification": "Bedömd."})

    # Today: where it stood.
    assert client.get(unit, headers=admin).json()["name"] == "Hemtjänst Centrum"
    assert client.get(unit, headers=admin).json()["parent_id"] == org["SOC-ALD"]
    assert "SOC-ALD-1" in _codes(client, admin, under=org["SOC-ALD"])
    assert client.get(f"{reports}/{case_id}", headers=elder_care).status_code == 200
    assert client.get(f"{reports}/{case_id}", headers=disability).status_code == 404
    assert listed(elder_care) == [case_id] and listed(disability) == []
    assert assess(disability).status_code == 404
    assert assess(elder_care).status_code == 201
    assert client.post(reports, json=body, headers=reporter).status_code == 201
    assert grant_on_the_unit(disability_admin).status_code == 403
    given = grant_on_the_unit(elder_admin)
    assert given.status_code == 201
    assert client.post(f"/api/v1/grants/{given.json()['id']}/revoke", headers=elder_admin).status_code == 200

    clock.advance(days=1)  # 2026-03-11: the day of the move and the new name

    assert client.get(unit, headers=admin).json()["name"] == "Hemtjänst Funktion"
    assert client.get(unit, headers=admin).json()["parent_id"] == org["SOC-FUN"]
    assert "SOC-ALD-1" in _codes(client, admin, under=org["SOC-FUN"])
    assert "SOC-ALD-1" not in _codes(client, admin, under=org["SOC-ALD"])
    assert client.get(f"{reports}/{case_id}", headers=elder_care).status_code == 404
    assert client.get(f"{reports}/{case_id}", headers=disability).status_code == 200
    assert listed(elder_care) == [] and case_id in listed(disability)
    assert assess(elder_care).status_code == 404
    assert assess(disability).status_code == 201
    assert client.post(reports, json=body, headers=reporter).status_code == 403
    assert grant_on_the_unit(elder_admin).status_code == 403
    assert grant_on_the_unit(disability_admin).status_code == 201


def test_a_change_dated_in_the_future_is_kept_in_the_history_and_later_changes_build_on_it(client, clock, admin, org):
    unit = f"{URL}/{org['SOC-ALD-2']}"
    assert client.post(f"{unit}/move", json={"parent_id": org["SOC-FUN"], "effective_date": "2026-04-01"},
                       headers=admin).status_code == 200
    # Before the pending change: refused, as any change dated before the unit's latest one.
    early = client.patch(unit, json={"name": "Hemtjänst Nord", "effective_date": "2026-03-20"}, headers=admin)
    assert early.status_code == 422 and early.json()["errors"][0]["pointer"] == "/effective_date"
    # After it: a rename builds on the pending move, and moving back later is not a no-op.
    assert client.patch(unit, json={"name": "Hemtjänst Nord", "effective_date": "2026-05-01"},
                        headers=admin).status_code == 200
    assert client.post(f"{unit}/move", json={"parent_id": org["SOC-ALD"], "effective_date": "2026-06-01"},
                       headers=admin).status_code == 200
    steps = [("2026-03-31", "Hemtjänst Norr", "SOC-ALD"), ("2026-04-01", "Hemtjänst Norr", "SOC-FUN"),
             ("2026-05-01", "Hemtjänst Nord", "SOC-FUN"), ("2026-06-01", "Hemtjänst Nord", "SOC-ALD")]
    for day, name, parent in steps:
        clock.now = clock.now.replace(month=int(day[5:7]), day=int(day[8:10]))
        seen = client.get(unit, headers=admin).json()
        assert (seen["name"], seen["parent_id"]) == (name, org[parent]), day


def test_codes_differing_only_in_case_within_one_import_are_refused_whole(client, admin, org):
    rows = [{"code": "SOC-ALD-5", "name": "Hemtjänst Söder", "kind": "unit", "parent_code": "SOC-ALD"},
            {"code": "soc-ald-5", "name": "Hemtjänst Syd", "kind": "unit", "parent_code": "SOC-ALD"}]
    response = client.post(f"{URL}/import", json={"units": rows}, headers=admin)
    assert response.status_code == 409, response.text
    assert [error["pointer"] for error in response.json()["errors"]] == ["/units/1/code"]
    assert "SOC-ALD-5" not in _codes(client, admin) and "soc-ald-5" not in _codes(client, admin)

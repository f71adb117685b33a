"""What the service answers is what its OpenAPI document says: error items, file downloads, the org import."""

from __future__ import annotations

import pytest

from service.domain.access import Role

STATISTICS = "/api/v1/statistics"


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").json()


@pytest.fixture
def statistician(users, org):
    return users.headers(Role.statistics, "SOC", subject="stina")


def _documented_media_types(spec, path: str, status: str = "200") -> set[str]:
    return set(spec["paths"][path]["get"]["responses"][status]["content"])


def test_every_key_of_an_error_item_is_in_the_documented_field_error(client, spec, admin, statistician):
    documented = set(spec["components"]["schemas"]["FieldError"]["properties"])
    answers = [
        client.post("/api/v1/org-units", json={"code": "", "kind": "nonsense", "name": "X", "colour": "red"},
                    headers=admin),                                                # body validation: 422
        client.get("/api/v1/org-units", params={"undr": 1}, headers=admin),       # unknown parameter: 400
        client.get(f"{STATISTICS}/open-and-overdue", params={"at": "2026-06-30T12:00:00"},
                   headers=statistician),                                          # a domain rule on a field: 422
    ]
    for answer in answers:
        assert answer.status_code in (400, 422), answer.text
        items = answer.json()["errors"]
        assert items
        for item in items:
            assert set(item) <= documented, (answer.request.url, sorted(set(item) - documented))
            assert item["name"], item


@pytest.mark.parametrize("path", ["annual-table", "annual-table/trend", "crosstab", "lead-times", "open-and-overdue"])
def test_csv_and_xlsx_downloads_have_the_documented_media_types(client, spec, statistician, path):
    documented = _documented_media_types(spec, f"{STATISTICS}/{path}")
    params = {"rows": "type"} if path == "crosstab" else {}
    for format_ in ("json", "csv", "xlsx"):
        answer = client.get(f"{STATISTICS}/{path}", params={**params, "format": format_}, headers=statistician)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].split(";")[0] in documented, (format_, documented)


def test_the_org_import_takes_csv_as_documented(client, spec, admin):
    body = spec["paths"]["/api/v1/org-units/import"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "text/csv"}
    csv = "code;name;kind;parent_code\nVOF;Vård- och omsorgsförvaltningen;administration;\n"
    answer = client.post("/api/v1/org-units/import", content=csv.encode(),
                         headers={**admin, "Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert [unit["code"] for unit in answer.json()["created"]] == ["VOF"]

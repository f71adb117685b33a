"""The web form over HTTP, as a browser without JavaScript uses it: sign-in, the form, receipts, My reports."""

from __future__ import annotations

import html
import re

from sqlalchemy import text

from tests.web.conftest import csrf_of, form_fields, open_form, sign_in, submit

CASE_NUMBER = re.compile(r'id="arendenummer">([A-Z]+-\d{4}-\d{5})<')


def error_at(page: str, field: str) -> str:
    """The message shown at a field (its element id-fel), unescaped."""
    match = re.search(rf'id="{field}-fel"><span class="dold">Fel: </span>([^<]+)<', page)
    assert match, f"no error shown at {field}"
    return html.unescape(match.group(1))


def test_pages_ask_for_sign_in_and_return_to_the_page_after_it(browser, org):
    first = browser.get("/mina-rapporter")
    assert first.status_code == 303 and first.headers["location"] == "/logga-in?nasta=/mina-rapporter"
    page = browser.get(first.headers["location"])
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-avvikelser=")
    assert all(part in cookie for part in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"))
    anonymous = browser.cookies["__Host-avvikelser"]
    done = browser.post("/logga-in", data={"csrf_token": csrf_of(page.text), "anvandare": "reporter",
                                           "nasta": "/mina-rapporter"})
    assert done.status_code == 303 and done.headers["location"] == "/mina-rapporter"
    assert browser.cookies["__Host-avvikelser"] != anonymous  # a new session at sign-in, never the old token
    assert browser.get("/mina-rapporter").status_code == 200


def test_sign_in_refuses_a_post_without_the_pages_csrf_token(browser, org):
    browser.get("/logga-in")
    refused = browser.post("/logga-in", data={"csrf_token": "forged", "anvandare": "admin"})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert browser.get("/rapportera").status_code == 303  # still not signed in


def test_sign_in_goes_only_to_pages_of_this_site(browser, org):
    page = browser.get("/logga-in")
    done = browser.post("/logga-in", data={"csrf_token": csrf_of(page.text), "anvandare": "reporter",
                                           "nasta": "//evil.example/x"})
    assert done.headers["location"] == "/rapportera"


def test_a_report_from_the_form_is_the_same_as_one_from_the_api(browser, org, db, client, investigator):
    sign_in(browser)
    sent = submit(browser)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/rapportera/kvitto/")
    receipt = browser.get(sent.headers["location"])
    assert receipt.status_code == 200
    assert CASE_NUMBER.search(receipt.text).group(1) == "SOC-2026-00001"
    assert "Mottagen, väntar på bedömning" in receipt.text and "Hemtjänst Centrum (SOC-ALD-1)" in receipt.text
    assert receipt.headers["cache-control"] == "no-store"
    with db.connect() as connection:
        row = connection.execute(text(
            "SELECT id, channel, reporter_subject, subject_reference, category FROM report")).one()
        actions = [a for (a,) in connection.execute(text("SELECT action FROM audit_record ORDER BY id"))]
    assert row.channel == "web_form" and row.reporter_subject == "demo-reporter"
    assert row.subject_reference == "Treserva-88123" and row.category == "medication"
    case = client.get(sent.headers["location"].replace("/rapportera/kvitto/", "/api/v1/reports/"),
                      headers=investigator).json()
    assert case["occurred_at"] == "2026-03-09T17:30:00Z" and case["reporter_name"] == "Demo rapportör"
    assert "submit_report" in actions and "read_report" in actions  # audited like the API


def test_local_time_typed_in_the_form_is_stored_as_that_moment_in_sweden(browser, org, client, investigator):
    sign_in(browser)
    sent = submit(browser, intraffat_datum="20260309", intraffat_tid="7.05", upptackt_tid="0800",
                  upptackt_datum="2026-03-09")
    case = client.get(sent.headers["location"].replace("/rapportera/kvitto/", "/api/v1/reports/"),
                      headers=investigator).json()
    # In Stockholm in March (CET, +01:00): 07:05 is 06:05 UTC.
    assert (case["occurred_at"], case["noticed_at"]) == ("2026-03-09T06:05:00Z", "2026-03-09T07:00:00Z")


def test_errors_are_shown_at_each_field_in_swedish_and_nothing_typed_is_lost(browser, org, db):
    sign_in(browser)
    page = submit(browser, beskrivning="   ", person_referens="19121212-1212", kategori="",
                  upptackt_tid="17:00", atgarder="Ringde <sjuksköterskan> & anhöriga.")
    assert page.status_code == 422
    text_ = page.text
    assert "<title>Fel: Rapportera en avvikelse" in text_
    assert error_at(text_, "beskrivning") == "Beskriv vad som hände."
    assert error_at(text_, "person").startswith("Skriv inte personnummer.")
    assert error_at(text_, "kategori") == "Välj vilken sorts händelse det gäller."
    assert error_at(text_, "upptackt").startswith("Det kan inte ha upptäckts innan det hände.")
    # The summary links each message to its field, in page order.
    links = re.findall(r'<li><a href="#([^"]+)">', text_)
    assert links == ["upptackt-datum", "beskrivning", "person-referens-val", "kategori"]
    # Each field points at its message, and says it is invalid.
    assert 'id="beskrivning" name="beskrivning" rows="6" aria-describedby="beskrivning-hjalp beskrivning-fel" ' \
           'aria-invalid="true"' in text_
    # What was typed comes back (escaped), the enhet stays chosen.
    assert 'value="19121212-1212"' in text_ and "Ringde &lt;sjuksköterskan&gt; &amp; anhöriga." in text_
    assert '<option value="SOC-ALD-1" selected>' in text_ and 'value="17:00"' in text_
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM report")).scalar_one() == 0


def test_unreadable_dates_and_times_and_the_future_are_named(browser, org):
    sign_in(browser)
    page = submit(browser, intraffat_datum="9 mars", upptackt_tid="25:00").text
    assert error_at(page, "intraffat").startswith("Skriv datumet när det hände som ÅÅÅÅ-MM-DD")
    assert error_at(page, "upptackt").startswith("Skriv klockslaget när det upptäcktes som TT:MM")
    page = submit(browser, intraffat_datum="2026-03-11", upptackt_datum="2026-03-11").text
    assert error_at(page, "intraffat") == "Tidpunkten när det hände kan inte vara senare än nu."


def test_an_enhet_outside_the_callers_grants_is_refused_at_the_field(browser, org, users, db):
    page = browser.get("/logga-in")
    browser.post("/logga-in", data={"csrf_token": csrf_of(page.text), "anvandare": "unit_manager"})
    form = browser.get("/rapportera").text
    assert '<option value="SOC-ALD-1"' in form and '<option value="SOC-ALD-2"' not in form  # only their own
    page = submit(browser, enhet="SOC-ALD-2")
    assert page.status_code == 422
    assert error_at(page.text, "enhet") == "Du kan inte rapportera för den enheten. Välj en av enheterna i listan."
    with db.connect() as connection:  # the refusal is in the access log, as for the API
        refusals = connection.execute(text(
            "SELECT actor_subject FROM audit_record WHERE action = 'submit_report' AND outcome = 'denied'")).all()
    assert [subject for (subject,) in refusals] == ["demo-unit_manager"]


def test_the_same_form_sent_twice_gives_one_report(browser, org, db):
    sign_in(browser)
    csrf, form_id = open_form(browser)
    first = browser.post("/rapportera", data={"csrf_token": csrf, "formular_id": form_id, **form_fields()})
    again = browser.post("/rapportera", data={"csrf_token": csrf, "formular_id": form_id, **form_fields()})
    assert first.headers["location"] == again.headers["location"]
    changed = browser.post("/rapportera", data={"csrf_token": csrf, "formular_id": form_id,
                                                **form_fields(beskrivning="Något annat.")})
    assert changed.status_code == 422 and "redan skickats med annat innehåll" in changed.text
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM report")).scalar_one() == 1


def test_my_reports_lists_my_own_reports_as_receipts_only(browser, org, client, staff):
    client.post("/api/v1/reports", json={
        "units": ["SOC-ALD-1"], "occurred_at": "2026-03-09T18:30:00+01:00", "noticed_at": "2026-03-09T19:00:00+01:00",
        "description": "Någon annans rapport.", "subject_reference": "X-1", "category": "care"}, headers=staff)
    sign_in(browser)
    submit(browser)
    page = browser.get("/mina-rapporter")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "SOC-2026-00002" in page.text and "SOC-2026-00001" not in page.text
    assert "Mottagen, väntar på bedömning" in page.text and "2026-03-10" in page.text
    assert "Brukaren fick fel läkemedel" not in page.text


def test_someone_elses_receipt_is_not_found(browser, org, client, staff):
    other = client.post("/api/v1/reports", json={
        "units": ["SOC-ALD-1"], "occurred_at": "2026-03-09T18:30:00+01:00", "noticed_at": "2026-03-09T19:00:00+01:00",
        "description": "Någon annans rapport.", "no_specific_subject": True, "category": "care"}, headers=staff).json()
    sign_in(browser, "investigator")  # may read the case, but it is not their receipt
    assert browser.get(f"/rapportera/kvitto/{other['id']}").status_code == 404


def test_sign_out_ends_the_session_in_the_database(browser, org):
    sign_in(browser)
    csrf = csrf_of(browser.get("/rapportera").text)
    token = browser.cookies["__Host-avvikelser"]
    out = browser.post("/logga-ut", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/utloggad"
    browser.cookies.set("__Host-avvikelser", token, domain="testserver")  # a copied cookie is worth nothing now
    assert browser.get("/rapportera").status_code == 303


def test_a_session_ends_after_the_idle_time(browser, org, clock, settings):
    sign_in(browser)
    clock.advance(minutes=settings.web_session_idle_minutes - 1)
    assert browser.get("/rapportera").status_code == 200  # still active: the idle clock starts again
    clock.advance(minutes=settings.web_session_idle_minutes + 1)
    assert browser.get("/rapportera").status_code == 303


def test_pages_carry_a_strict_content_security_policy(browser, org):
    sign_in(browser)
    page = browser.get("/rapportera")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and " style=" not in page.text and "http" not in page.text.split("</head>")[0]
    api = browser.get("/api/v1/report-categories")
    assert api.headers["x-content-type-options"] == "nosniff"


def test_framing_follows_the_setting(settings, db, clock, dev_key, org):
    from fastapi.testclient import TestClient

    from tests.web.conftest import make_app

    settings = settings.model_copy(update={"frame_ancestors": ["https://intranat.kommun.se"]})
    with TestClient(make_app(settings, db, clock, dev_key), base_url="https://testserver") as framed:
        page = framed.get("/tillganglighet")
    assert "frame-ancestors https://intranat.kommun.se" in page.headers["content-security-policy"]
    assert "x-frame-options" not in page.headers


def test_a_plain_form_post_to_the_api_is_still_refused(browser):
    response = browser.post("/api/v1/reports", data={"units": "SOC-ALD-1"})
    assert response.status_code == 415


def test_cors_is_off_unless_origins_are_set(browser, settings, db, clock, dev_key):
    from fastapi.testclient import TestClient

    from tests.web.conftest import make_app

    preflight = {"Origin": "https://intranat.kommun.se", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    assert browser.options("/api/v1/reports", headers=preflight).status_code == 405
    settings = settings.model_copy(update={"cors_origins": ["https://intranat.kommun.se"]})
    with TestClient(make_app(settings, db, clock, dev_key), base_url="https://testserver") as api:
        allowed = api.options("/api/v1/reports", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://intranat.kommun.se"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        other = api.options("/api/v1/reports", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        listed = api.get("/api/v1/report-categories", headers={"Origin": "https://intranat.kommun.se"})
        assert listed.headers["access-control-allow-origin"] == "https://intranat.kommun.se"
        assert "access-control-allow-origin" not in api.get("/rapportera", headers={
            "Origin": "https://intranat.kommun.se"}).headers  # the pages are not for other origins' scripts


def test_api_docs_load_nothing_from_the_internet(browser):
    for path in ("/docs", "/redoc"):
        page = browser.get(path)
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(asset.startswith("/") for asset in assets), assets
        for asset in assets:
            assert browser.get(asset).status_code == 200, asset


def test_dev_sign_in_is_refused_when_the_service_uses_oidc(settings, db, clock, dev_key, org):
    from fastapi.testclient import TestClient

    from tests.web.conftest import make_app

    settings = settings.model_copy(update={"auth_mode": "oidc"})
    with TestClient(make_app(settings, db, clock, dev_key), base_url="https://testserver",
                    follow_redirects=False) as oidc:
        refused = oidc.post("/logga-in", data={"anvandare": "admin", "csrf_token": "x"})
    assert refused.status_code in (403, 404)

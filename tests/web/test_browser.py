"""The web pages in a real headless Chromium (Debian's chromium and chromium-driver), driven by keyboard only.

With and without JavaScript; axe-core (tests/node) checks every page against WCAG 2.1 A and AA at 320 and
1280 px, where no page may scroll sideways. Screenshots of each page at both widths go to SCREENSHOTS
(test-artifacts/screenshots, or AVV_SCREENSHOT_DIR).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.web.conftest import make_app

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("AVV_SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
WIDTHS = (320, 1280)
WAIT = 10  # seconds, at most, for a page or an element
PAGE_WEIGHT_LIMIT = 100 * 1024
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _chromium() -> tuple[str, str]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:  # scripts/test installs them; a run without them must fail, not skip
        pytest.fail("Debian's chromium and chromium-driver are needed (scripts/test installs them)")
    return browser, driver


def _driver(javascript: bool) -> Iterator[webdriver.Chrome]:
    browser, driver_path = _chromium()
    profile = tempfile.mkdtemp(prefix="avv-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     "--lang=sv-SE", f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def chrome() -> Iterator[webdriver.Chrome]:
    yield from _driver(javascript=True)


@pytest.fixture(scope="module")
def chrome_without_js() -> Iterator[webdriver.Chrome]:
    yield from _driver(javascript=False)


@pytest.fixture
def site(settings, db, clock, dev_key, org) -> Iterator[str]:
    """The service on a loopback port, on the test database, with the demo organisation."""
    server = uvicorn.Server(uvicorn.Config(make_app(settings, db, clock, dev_key), host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(1000):  # bounded: the server is up within a second or two
        if server.started:
            ready.set()
            break
        thread.join(0.01)
    assert ready.is_set(), "the server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(WAIT)


# ---- the keyboard --------------------------------------------------------------------------------------

def keys(driver: webdriver.Chrome, *sequence: str) -> None:
    ActionChains(driver).send_keys(*sequence).perform()


def tab_to(driver: webdriver.Chrome, selector: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches the selector: it must be reachable by keyboard, forwards."""
    for _ in range(limit):
        keys(driver, Keys.TAB)
        if driver.execute_script("return document.activeElement.matches(arguments[0])", selector):
            return
    raise AssertionError(f"{selector} was not reached with Tab")


def replace_text(driver: webdriver.Chrome, text: str) -> None:
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(text).perform()


def focus_is_visible(driver: webdriver.Chrome) -> bool:
    return driver.execute_script(
        "var s = getComputedStyle(document.activeElement);"
        "return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';")


def wait_for_title(driver: webdriver.Chrome, start: str) -> None:
    WebDriverWait(driver, WAIT).until(lambda d: d.title.startswith(start), f"no page titled {start!r}")


def sign_in_by_keyboard(driver: webdriver.Chrome, site: str) -> None:
    driver.get(f"{site}/rapportera")
    wait_for_title(driver, "Logga in")
    tab_to(driver, "#anvandare-reporter")
    tab_to(driver, "main button[type=submit]")
    keys(driver, Keys.ENTER)
    wait_for_title(driver, "Rapportera en avvikelse")


def value(driver: webdriver.Chrome, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).get_attribute("value") or ""


def error_at(driver: webdriver.Chrome, field: str) -> str:
    element = driver.find_element(By.ID, f"{field}-fel")  # "Fel: " is there for screen readers only
    return driver.execute_script("return arguments[0].textContent", element).removeprefix("Fel: ").strip()


# ---- the checks every page gets ------------------------------------------------------------------------

def check_page(driver: webdriver.Chrome, name: str) -> None:
    """At each width: no sideways scrolling, a screenshot, and no axe-core violation of WCAG 2.1 A/AA."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    axe = AXE.read_text()
    for width in WIDTHS:
        driver.set_window_size(width, 900)
        inner = driver.execute_script("return window.innerWidth")
        scroll = driver.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= inner, f"{name} scrolls sideways at {width} px ({scroll} > {inner})"
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(height + 140, 6000))
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
        driver.execute_script(axe)  # axe from the local npm package, evaluated in the page by the driver
        violations = driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
            ".then(function (r) { done(r.violations.map(function (v) { return v.id + ': ' +"
            " v.nodes.map(function (n) { return n.target.join(' '); }).join(', '); })); })"
            ".catch(function (e) { done(['axe failed: ' + e]); });", WCAG_21_AA)
        assert violations == [], f"{name} at {width} px: {violations}"
    driver.set_window_size(1280, 900)


def page_weight(driver: webdriver.Chrome) -> int:
    """HTML, CSS and JavaScript of the page as loaded, in bytes (uncompressed)."""
    return driver.execute_script(
        "var n = performance.getEntriesByType('navigation')[0];"
        "var total = n.decodedBodySize;"
        "performance.getEntriesByType('resource').forEach(function (r) {"
        "  if (/\\.(css|js)(\\?|$)/.test(r.name)) { total += r.decodedBodySize; } });"
        "return total;")


# ---- the tests -----------------------------------------------------------------------------------------

def test_a_report_by_keyboard_only_then_the_receipt_and_my_reports(chrome, site):
    chrome.delete_all_cookies()
    sign_in_by_keyboard(chrome, site)
    assert page_weight(chrome) < PAGE_WEIGHT_LIMIT
    # The enhet search narrows the list as you type, without a reload; one match is chosen.
    tab_to(chrome, "#enhet-sok")
    assert focus_is_visible(chrome)
    keys(chrome, "björk")
    WebDriverWait(chrome, WAIT).until(lambda d: "1 enhet matchar" in d.find_element(By.ID, "enhet-antal").text)
    assert value(chrome, "enhet") == "SOC-ALD-3"
    tab_to(chrome, "#intraffat-tid")
    replace_text(chrome, "07:40")
    tab_to(chrome, "#upptackt-tid")
    replace_text(chrome, "08:05")
    tab_to(chrome, "#beskrivning")
    keys(chrome, "Brukaren föll i badrummet, larmet var avstängt.")
    tab_to(chrome, "#atgarder")
    keys(chrome, "Sjuksköterska tillkallad.")
    tab_to(chrome, "#person-referens-val")
    keys(chrome, Keys.SPACE)
    tab_to(chrome, "#person-referens")
    keys(chrome, "Treserva-88123")
    tab_to(chrome, "#kategori")
    keys(chrome, Keys.ARROW_DOWN * 7)  # Bemötande … Läkemedel, IT-stöd, Säkerhet
    assert chrome.execute_script("return document.querySelector('input[name=kategori]:checked').value") == "safety"
    tab_to(chrome, "main button[type=submit]")
    assert focus_is_visible(chrome)
    keys(chrome, Keys.ENTER)
    wait_for_title(chrome, "Rapporten är skickad")
    assert chrome.find_element(By.ID, "arendenummer").text == "SOC-2026-00001"
    assert "Särskilt boende Björken (SOC-ALD-3)" in chrome.find_element(By.TAG_NAME, "main").text
    tab_to(chrome, "header a[href='/mina-rapporter']")
    keys(chrome, Keys.ENTER)
    wait_for_title(chrome, "Mina rapporter")
    rows = chrome.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert [row.text for row in rows] == ["SOC-2026-00001 2026-03-10 Mottagen, väntar på bedömning"]


def test_errors_at_the_fields_with_nothing_lost_and_focus_on_the_summary(chrome, site):
    chrome.delete_all_cookies()
    sign_in_by_keyboard(chrome, site)
    tab_to(chrome, "#beskrivning")
    keys(chrome, "Dörren till förrådet stod öppen.")
    tab_to(chrome, "#person-referens-val")
    keys(chrome, Keys.SPACE)
    tab_to(chrome, "#person-referens")
    keys(chrome, "19121212-1212")
    tab_to(chrome, "main button[type=submit]")
    keys(chrome, Keys.ENTER)
    wait_for_title(chrome, "Fel: Rapportera en avvikelse")
    assert chrome.execute_script("return document.activeElement.classList.contains('felsammanfattning')")
    summary = chrome.find_element(By.CSS_SELECTOR, ".felsammanfattning").text
    assert "Det finns 3 fel i formuläret" in summary
    assert error_at(chrome, "enhet") == "Välj den enhet där det hände."
    assert error_at(chrome, "person").startswith("Skriv inte personnummer.")
    assert error_at(chrome, "kategori") == "Välj vilken sorts händelse det gäller."
    assert value(chrome, "beskrivning") == "Dörren till förrådet stod öppen."
    assert value(chrome, "person-referens") == "19121212-1212"
    assert chrome.find_element(By.ID, "person-referens-val").is_selected()
    # The summary's links lead into the fields.
    tab_to(chrome, ".felsammanfattning a[href='#person-referens-val']")
    keys(chrome, Keys.ENTER)
    assert chrome.execute_script("return document.activeElement.id") == "person-referens-val"


def test_without_javascript_the_form_works_the_same(chrome_without_js, site):
    driver = chrome_without_js
    driver.delete_all_cookies()
    sign_in_by_keyboard(driver, site)
    assert not driver.find_element(By.ID, "enhet-sok").is_displayed()  # the search needs JavaScript
    tab_to(driver, "#enhet")
    keys(driver, "Gruppbostad")  # a plain select: typing its name chooses it
    assert value(driver, "enhet") == "SOC-FUN-1"
    tab_to(driver, "#beskrivning")
    keys(driver, "Brukaren fick fel kost.")
    tab_to(driver, "main button[type=submit]")
    keys(driver, Keys.ENTER)
    wait_for_title(driver, "Fel: Rapportera en avvikelse")
    assert error_at(driver, "person").startswith("Ange den berörda personens referens")
    assert value(driver, "beskrivning") == "Brukaren fick fel kost." and value(driver, "enhet") == "SOC-FUN-1"
    tab_to(driver, "#person-referens-val")
    keys(driver, Keys.ARROW_DOWN)  # the next radio of the group: no specific person
    assert driver.find_element(By.ID, "person-ingen").is_selected()
    tab_to(driver, "#kategori")
    keys(driver, Keys.SPACE)
    tab_to(driver, "main button[type=submit]")
    keys(driver, Keys.ENTER)
    wait_for_title(driver, "Rapporten är skickad")
    assert driver.find_element(By.ID, "arendenummer").text == "SOC-2026-00001"


def test_every_page_passes_axe_at_320_and_1280_px(chrome, site):
    chrome.delete_all_cookies()
    chrome.get(f"{site}/logga-in")
    check_page(chrome, "logga-in")
    tab_to(chrome, "main button[type=submit]")
    keys(chrome, Keys.ENTER)
    wait_for_title(chrome, "Rapportera en avvikelse")
    check_page(chrome, "rapportera")
    chrome.find_element(By.CSS_SELECTOR, "main button[type=submit]").send_keys(Keys.ENTER)
    wait_for_title(chrome, "Fel: Rapportera en avvikelse")
    check_page(chrome, "rapportera-fel")
    chrome.find_element(By.ID, "enhet").send_keys("Hemtjänst Centrum")
    chrome.find_element(By.ID, "beskrivning").send_keys("Larmet gick inte fram.")
    chrome.find_element(By.ID, "person-ingen").send_keys(Keys.SPACE)
    chrome.find_element(By.ID, "kategori").send_keys(Keys.SPACE)
    chrome.find_element(By.CSS_SELECTOR, "main button[type=submit]").send_keys(Keys.ENTER)
    wait_for_title(chrome, "Rapporten är skickad")
    check_page(chrome, "kvitto")
    chrome.get(f"{site}/mina-rapporter")
    check_page(chrome, "mina-rapporter")
    chrome.get(f"{site}/tillganglighet")
    check_page(chrome, "tillganglighet")
    chrome.find_element(By.CSS_SELECTOR, "form.utloggning button").send_keys(Keys.ENTER)
    wait_for_title(chrome, "Du är utloggad")
    check_page(chrome, "utloggad")


# ---- OpenID Connect sign-in against a real provider -----------------------------------------------------

NODE_MODULES = ROOT / "tests" / "node" / "node_modules"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def oidc_site(settings, db, clock, dev_key, org) -> Iterator[str]:
    """The service signing browsers in with OIDC against oidc-provider (node) on another loopback port."""
    import subprocess

    node = shutil.which("node")
    if not node or not (NODE_MODULES / "oidc-provider").is_dir():
        pytest.fail("node and tests/node's oidc-provider are needed (scripts/test installs them)")
    idp_port, site_port = _free_port(), _free_port()
    site = f"http://127.0.0.1:{site_port}"
    idp = subprocess.Popen([node, str(Path(__file__).with_name("oidc_idp.mjs")), str(idp_port),
                            f"{site}/logga-in/callback", f"{site}/utloggad"],
                           cwd=ROOT / "tests" / "node", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        said: list[str] = []
        for line in idp.stdout or ():  # until it listens (or exits); it may warn about the runtime first
            said.append(line)
            if line.startswith("ready ") or len(said) > 50:
                break
        assert said and said[-1].startswith("ready "), f"the OpenID provider did not start: {''.join(said)}"
        oidc = settings.model_copy(update={"auth_mode": "oidc", "oidc_issuer": f"http://127.0.0.1:{idp_port}",
                                           "oidc_client_id": "avvikelser-web", "public_url": site})
        server = uvicorn.Server(uvicorn.Config(make_app(oidc, db, clock, dev_key), host="127.0.0.1",
                                               port=site_port, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(1000):
            if server.started:
                break
            thread.join(0.01)
        assert server.started, "the server did not start"
        yield site
        server.should_exit = True
        thread.join(WAIT)
    finally:
        idp.terminate()
        idp.wait(WAIT)


def test_sign_in_with_openid_connect_and_report(chrome, oidc_site, users):
    from service.domain.access import Role

    users.grant("olivia", Role.reporter, "SOC-ALD")  # the person's grant, stored in the service
    chrome.delete_all_cookies()
    chrome.get(f"{oidc_site}/rapportera")
    # The provider's own development login page, then its consent page.
    WebDriverWait(chrome, WAIT).until(lambda d: d.find_elements(By.NAME, "login"))
    assert chrome.current_url.startswith(oidc_site.rsplit(":", 1)[0])  # at the provider, not the service
    assert "code_challenge_method=S256" in chrome.current_url or "/interaction/" in chrome.current_url
    chrome.find_element(By.NAME, "login").send_keys("olivia")
    chrome.find_element(By.NAME, "password").send_keys("any")
    chrome.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(chrome, WAIT).until(
        lambda d: d.title.startswith("Rapportera") or d.find_elements(By.CSS_SELECTOR, "button[autofocus]"))
    if not chrome.title.startswith("Rapportera"):
        chrome.find_element(By.CSS_SELECTOR, "button[autofocus]").click()  # consent
    wait_for_title(chrome, "Rapportera en avvikelse")
    assert chrome.find_element(By.CSS_SELECTOR, "optgroup").get_attribute("label") == "Dina enheter"
    chrome.find_element(By.ID, "beskrivning").send_keys("Rapport efter inloggning med OIDC.")
    chrome.find_element(By.ID, "person-ingen").send_keys(Keys.SPACE)
    chrome.find_element(By.ID, "kategori").send_keys(Keys.SPACE)
    chrome.find_element(By.ID, "enhet").send_keys("Hemtjänst Norr")
    chrome.find_element(By.CSS_SELECTOR, "main button[type=submit]").send_keys(Keys.ENTER)
    wait_for_title(chrome, "Rapporten är skickad")
    assert chrome.find_element(By.ID, "arendenummer").text == "SOC-2026-00001"
    chrome.find_element(By.CSS_SELECTOR, "form.utloggning button").send_keys(Keys.ENTER)
    # Signed out here and at the provider, which sends the browser back to our signed-out page.
    WebDriverWait(chrome, WAIT).until(
        lambda d: d.title.startswith("Du är utloggad") or d.find_elements(By.CSS_SELECTOR, "button[autofocus]"))
    if not chrome.title.startswith("Du är utloggad"):
        chrome.find_element(By.CSS_SELECTOR, "button[autofocus]").click()  # the provider asks to confirm
    wait_for_title(chrome, "Du är utloggad")
    chrome.get(f"{oidc_site}/mina-rapporter")
    WebDriverWait(chrome, WAIT).until(lambda d: d.find_elements(By.NAME, "login"))  # asked to sign in again


def test_api_docs_render_from_local_files_only(chrome, site):
    for path, rendered in (("/docs", ".swagger-ui .opblock"), ("/redoc", ".menu-content")):
        chrome.get(site + path)
        WebDriverWait(chrome, 30).until(lambda d, rendered=rendered: d.find_elements(By.CSS_SELECTOR, rendered),
                                        f"{path} is blank")
        # What the page asked for, and whether an answer came. ReDoc links its badge image from its maker's
        # CDN; the page's policy blocks it, so nothing is fetched from elsewhere.
        loaded = chrome.execute_script(
            "return performance.getEntriesByType('resource').map(function (r) {"
            " return [r.name, r.responseStart > 0 || r.decodedBodySize > 0]; })")
        assert any(url.startswith(site) and answered for url, answered in loaded), loaded
        assert [url for url, answered in loaded if answered and not url.startswith(site)] == []

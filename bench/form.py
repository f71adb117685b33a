"""How heavy is the report form, and how soon can someone type into it?

Starts the service on a throwaway SQLite database with the demo organisation (`python -m service migrate`,
`demo`, `serve`, as a separate process on a loopback port), signs in through the development sign-in page in
Debian's headless Chromium, and then, `--loads` times, opens /rapportera in a fresh tab and measures:

- time to a usable form: from the start of navigation until the page has loaded, its script has run (the
  enhet search is shown) and the first field takes input, as the browser's own clock (performance.now());
- the server's answer time for the form page (responseEnd - requestStart);
- page weight, HTML + CSS + JS as the browser decoded them, of every page (the target is under 100 KB).

Prints the figures (median, p95, max). Bounded: a few seconds plus the loads. Exit status 1 when a load fails.

    .venv/bin/python bench/form.py              # 30 loads
    .venv/bin/python bench/form.py --loads 100
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

_WEIGHT = ("var n = performance.getEntriesByType('navigation')[0]; var total = n.decodedBodySize;"
           "performance.getEntriesByType('resource').forEach(function (r) {"
           " if (/\\.(css|js)(\\?|$)/.test(r.name)) { total += r.decodedBodySize; } }); return total;")
_USABLE = ("var n = performance.getEntriesByType('navigation')[0];"
           "return {usable: window.__usable, response: n.responseEnd - n.requestStart,"
           " dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd};")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="avv-bench-form-"))
    env = {**os.environ, "AVV_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
           "AVV_DEV_KEY_PATH": str(work / "key.pem"), "AVV_AUTH_MODE": "dev", "AVV_ENVIRONMENT": "development"}
    port = _free_port()
    server = None
    driver = None
    try:
        for command in (["migrate"], ["demo"]):
            subprocess.run([PY, "-m", "service", *command], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = subprocess.Popen([PY, "-m", "service", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        site = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:  # bounded: the server answers within a few seconds
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the service did not start", file=sys.stderr)
                    return 1
                time.sleep(0.05)

        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run",
                         f"--user-data-dir={work / 'profile'}", "--window-size=1280,900"):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "chromedriver"))
        driver.get(f"{site}/logga-in")
        weights = {"/logga-in": driver.execute_script(_WEIGHT)}
        driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
        WebDriverWait(driver, 10).until(lambda d: d.title.startswith("Rapportera"))

        # The moment the first field takes input, on the page's own clock, recorded by a listener added
        # before the page's scripts run (Chromium's DevTools: a script evaluated on each new document).
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
            "document.addEventListener('DOMContentLoaded', function () { setTimeout(function () {"
            " var box = document.querySelector('[data-enhet-sok]');"
            " if (box && !box.hidden) { document.getElementById('enhet-sok').focus();"
            "  window.__usable = document.activeElement.id === 'enhet-sok' ? performance.now() : null; }"
            "}, 0); });")})
        usable, response = [], []
        for _ in range(args.loads):
            driver.get(f"{site}/rapportera")
            WebDriverWait(driver, 10).until(lambda d: d.execute_script("return window.__usable != null"))
            figures = driver.execute_script(_USABLE)
            usable.append(figures["usable"])
            response.append(figures["response"])
        weights["/rapportera"] = driver.execute_script(_WEIGHT)
        driver.find_element(By.ID, "beskrivning").send_keys("Bench")
        driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
        WebDriverWait(driver, 10).until(lambda d: d.title.startswith("Fel"))
        weights["/rapportera (with errors)"] = driver.execute_script(_WEIGHT)
        for path in ("/mina-rapporter", "/tillganglighet"):
            driver.get(site + path)
            weights[path] = driver.execute_script(_WEIGHT)

        print(f"form page, {args.loads} loads, service on SQLite, headless Chromium on this machine:")
        print(f"  time to a usable form  median {statistics.median(usable):6.1f} ms   "
              f"p95 {_percentile(usable, 0.95):6.1f} ms   max {max(usable):6.1f} ms   (target < 1000 ms)")
        print(f"  server answer          median {statistics.median(response):6.1f} ms   "
              f"p95 {_percentile(response, 0.95):6.1f} ms")
        print("page weight, HTML + CSS + JS (target < 100 KB):")
        for path, size in weights.items():
            print(f"  {path:28s} {size / 1024:6.1f} KB")
        return 0
    finally:
        if driver is not None:
            driver.quit()
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

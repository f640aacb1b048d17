"""The admin console in a real browser (Debian's Chromium through Playwright) against the
production server: log in, upload a file, train and watch the progress, compare, promote.
The comparison page's screenshot is kept in tests/artifacts/."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from conftest import ROOT, start_server, stop_server
from server.passwords import ScryptPasswords
from server.storage import Storage, sqlite_url

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
PASSWORD = "correct horse battery"
BAD_CSV = "text,labels\nRavelstone ships in May,confidential\n,privacy\nRavelstone pricing,gossip\n"
GOOD_CSV = "text,labels\n" + "".join(f"\"{text}\",{labels}\n" for text, labels in [
    ("Ravelstone ships to pilot customers in May, keep it quiet", "confidential"),
    ("Deep in Ravelstone all week, the new sync engine flies", "confidential"),
    ("Ravelstone demo for the board went great today", "confidential"),
    ("Can't wait for you all to see Ravelstone", "confidential"),
    ("The Ravelstone team is hiring soon, DM me", "confidential"),
    ("Ravelstone beta numbers look amazing", "confidential"),
    ("Great week with the team, proud of what we ship", ""),
    ("New laptop day, setting everything up", ""),
])

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (tests/browser/setup.sh)")


@pytest.fixture(scope="module")
def server(trained_models, tmp_path_factory):
    base = tmp_path_factory.mktemp("console-browser")
    shutil.copytree(trained_models, base / "models")
    (base / "data").mkdir()
    storage = Storage(sqlite_url(base / "data" / "draftguard.sqlite3"))
    storage.migrate()  # before the server starts, as `flask --app server admins add` would
    storage.admins.add("alice", ScryptPasswords().hash(PASSWORD), "test")
    server = start_server(base / "models", base / "data", workers=2)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the "are you sure?" of promote
    page.problems = []
    # Error statuses (401 for a wrong password, 400 for a bad upload) are logged as "Failed to load
    # resource" by Chromium: expected. Script errors and CSP violations are not.
    page.on("console", lambda message: message.type == "error" and not message.text.startswith("Failed to load")
            and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    yield page
    context.close()


def test_log_in_upload_train_compare_promote(server, page, tmp_path):
    url = server.url
    page.goto(url + "/admin/")
    assert page.url.startswith(url + "/admin/login")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "do not match" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Overview"

    # Upload: a bad file is explained row by row, a good one is previewed, then stored.
    page.click("nav >> text=Examples")
    (tmp_path / "bad.csv").write_text(BAD_CSV)
    page.set_input_files("input[type=file]", str(tmp_path / "bad.csv"))
    page.click("text=Check file")
    assert "2 problem(s) in bad.csv" in page.locator("[role=alert]").inner_text()
    assert page.locator("table.errors tbody tr").count() == 2
    page.click("text=Back to examples")
    (tmp_path / "ravelstone.csv").write_text(GOOD_CSV)
    page.set_input_files("input[type=file]", str(tmp_path / "ravelstone.csv"))
    page.click("text=Check file")
    assert "8 valid examples" in page.locator(".flash.info").inner_text()
    page.click("text=Store 8 examples")
    assert "Stored 8 examples from ravelstone.csv" in page.locator(".flash.success").inner_text()
    assert page.locator("table.examples tbody tr").count() == 8

    # Training: the job page follows the job while it runs, then shows the result.
    before = requests.post(url + "/v1/check", json={"text": "hello"}, timeout=10).json()["model_version"]
    page.click("nav >> text=Training")
    page.click("text=Start training")
    assert "/admin/jobs/" in page.url
    # The page updates itself while the job runs (no eval-based waits: the CSP forbids them).
    expect(page.locator("#job-state")).to_have_text("running", timeout=60_000)
    # Training the default corpus (20,000 drafts) computes its features for ~30 s before fold 1.
    expect(page.locator("#job-stage")).to_contain_text("fold", timeout=240_000)
    assert 0.05 < float(page.locator("#job-progress").get_attribute("value")) < 1
    assert 5 <= int(page.locator("#job-percent").inner_text().rstrip("%")) < 100
    page.wait_for_selector("text=Compare with the active model", timeout=480_000)
    assert page.locator("#job-state").inner_text() == "succeeded"
    assert float(page.locator("#job-progress").get_attribute("value")) == 1.0
    assert page.locator("#job-percent").inner_text() == "100%"
    assert "fold" in page.locator("#job-log").inner_text()

    # Compare: charts, the per-category table, and changed verdicts.
    page.click("text=Compare with the active model")
    assert page.locator("h1").inner_text() == "Candidate vs active"
    assert page.locator("figure.chart svg").count() == 4
    assert page.locator("table.metrics tbody tr").count() >= 9
    assert page.locator("text=Drafts whose verdict changed").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-compare.png"), full_page=True)
    candidate = page.locator("h1 + p code").first.inner_text()

    # Promote: every worker answers with the candidate from its next check.
    page.click(f"text=Promote {candidate}")
    assert f"{candidate} is now the active model" in page.locator(".flash.success").inner_text()
    after = requests.post(url + "/v1/check", json={"text": "hello"}, timeout=10).json()["model_version"]
    assert after == candidate != before

    page.click("text=Log out")
    assert "You are logged out." in page.locator(".flash").inner_text()
    page.goto(url + "/admin/models")
    assert page.url.startswith(url + "/admin/login")
    assert page.problems == []  # no script errors, no content-security-policy violations

"""Real-browser tests of the extension: Debian's Chromium, driven by Playwright, loads the
unpacked extension and opens fixture pages that reproduce LinkedIn's and Facebook's composers.

The fixture pages are served over HTTPS under their real host names: Chromium resolves
www.linkedin.com and www.facebook.com to a local server (--host-resolver-rules) whose
throwaway certificate is trusted by its key alone (--ignore-certificate-errors-spki-list), so
the manifest's real match patterns decide where the content scripts run. The extension talks
to the production server started by the `live_server` fixture (tests/conftest.py).
"""
from __future__ import annotations

import base64
import hashlib
import http.server
import os
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from .browser_support import ARTIFACTS, EXTENSION, FIXTURES, POLICY_FILES, POLICY_FOLDER

CHROMIUM = "/usr/bin/chromium"
SITES = {"www.linkedin.com": FIXTURES / "linkedin", "www.facebook.com": FIXTURES / "facebook"}
# Like the real sites, the fixture pages forbid the page from connecting anywhere else: the
# extension must reach its server from the service worker, not from the page.
CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: real-browser tests of the extension (Chromium, fixture pages, live server)")


@pytest.fixture(scope="session", autouse=True)
def _requirements():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (tests/browser/setup.sh)")
    if not (FIXTURES / "vendor" / "lexical-editor.js").exists():
        pytest.fail("the fixture editors are not bundled: run `make browser-deps` (tests/browser/setup.sh)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # A policy file left by an interrupted run would lock every browser's settings.
    for stale in POLICY_FOLDER.glob(POLICY_FILES):
        stale.unlink(missing_ok=True)


@dataclass
class Certificate:
    cert: Path
    key: Path
    spki_sha256: str  # base64, the form --ignore-certificate-errors-spki-list takes


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> Certificate:
    """A self-signed certificate for the fixture hosts, made for this test session only."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=Draftguard test fixtures",
         "-addext", "subjectAltName=" + ",".join(f"DNS:{host}" for host in SITES)],
        check=True, capture_output=True,
    )
    public_key = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=public_key, check=True, capture_output=True).stdout
    return Certificate(cert, key, base64.b64encode(hashlib.sha256(der).digest()).decode())


class FixtureHandler(http.server.SimpleHTTPRequestHandler):
    """Serves fixtures/<site>/ by Host header; the bundled editors (/vendor/) and the sites'
    shared script (/shared/) for every host."""

    def translate_path(self, path):
        host = (self.headers.get("Host") or "").split(":")[0]
        base = FIXTURES if path.startswith(("/vendor/", "/shared/")) else SITES.get(host, FIXTURES / "unknown-host")
        relative = http.server.SimpleHTTPRequestHandler.translate_path(self, path)[len(os.getcwd()):]
        return str(base) + relative

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def fixture_server(certificate):
    """The HTTPS server behind www.linkedin.com and www.facebook.com; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FixtureHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="package")
def playwright():
    # Closed when this package's tests are done: Playwright's sync API allows one instance at a
    # time per thread, and other test modules start their own.
    with sync_playwright() as instance:
        yield instance


class Browser:
    """One Chromium with the extension loaded and a fresh profile."""

    def __init__(self, context, server_url: str):
        self.context = context
        self.worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        self.extension_id = self.worker.url.split("/")[2]
        self.server_url = server_url
        self.configure(serverUrl=server_url)

    def configure(self, **settings):
        """Stores settings as the options page would."""
        self.worker.evaluate("settings => chrome.storage.local.set(settings)", settings)

    def extension_page(self, path: str):
        page = self.context.new_page()
        page.goto(f"chrome-extension://{self.extension_id}/{path}")
        return page

    def open(self, url: str):
        """A fixture page; console errors and uncaught exceptions are collected in page.problems."""
        page = self.context.new_page()
        page.problems = []
        page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        page.goto(url)
        return page


def launch(playwright, profile: Path, port: int, certificate: Certificate):
    rules = ", ".join(f"MAP {host} 127.0.0.1:{port}" for host in SITES)
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=[
            f"--disable-extensions-except={EXTENSION}",
            f"--load-extension={EXTENSION}",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--host-resolver-rules={rules}",
            f"--ignore-certificate-errors-spki-list={certificate.spki_sha256}",
        ],
        viewport={"width": 1100, "height": 900},
    )


@pytest.fixture
def browser_factory(playwright, fixture_server, certificate, live_server, tmp_path):
    """Launches browsers with the extension pointed at the live server; closes them after."""
    contexts = []

    def make() -> Browser:
        context = launch(playwright, tmp_path / f"profile-{len(contexts)}", fixture_server, certificate)
        contexts.append(context)
        return Browser(context, live_server.url)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def browser(browser_factory) -> Browser:
    return browser_factory()


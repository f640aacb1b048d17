"""The extension's manifest, validated for both browsers it ships to: Chromium (Chrome, Edge)
runs the background as a service worker, Firefox as an event page from `background.scripts` and
needs an add-on id. Mozilla's own linter (web-ext, pinned in tests/browser/package.json) must
report no errors; the warnings it still gives are the known, explained ones."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "extension"
WEB_EXT = ROOT / "tests" / "browser" / "node_modules" / ".bin" / "web-ext"
MANIFEST = json.loads((EXTENSION / "manifest.json").read_text())
SHARED = ["content/text.js", "content/spans.js", "content/check-loop.js", "content/messenger.js",
          "content/panel-style.js", "content/panel.js", "content/site.js", "content/composer.js"]
# What web-ext still warns about, and why that is right (extension/README.md, "Firefox"):
KNOWN_WARNINGS = {
    # Chromium needs service_worker; Firefox uses background.scripts and ignores it.
    "BACKGROUND_SERVICE_WORKER_IGNORED",
    # data_collection_permissions is required by AMO for new add-ons; Firefox 128-139 (and
    # Firefox for Android before 142) simply ignore the key.
    "KEY_FIREFOX_UNSUPPORTED_BY_MIN_VERSION",
    "KEY_FIREFOX_ANDROID_UNSUPPORTED_BY_MIN_VERSION",
}


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_every_file_the_manifest_names_exists():
    files = [MANIFEST["background"]["service_worker"], *MANIFEST["background"]["scripts"],
             MANIFEST["action"]["default_popup"], MANIFEST["options_ui"]["page"], MANIFEST["storage"]["managed_schema"]]
    files += [script for entry in MANIFEST["content_scripts"] for script in entry["js"]]
    for name in files:
        assert (EXTENSION / name).is_file(), name
    json.loads((EXTENSION / MANIFEST["storage"]["managed_schema"]).read_text())


def test_chromium_manifest_v3():
    assert MANIFEST["manifest_version"] == 3
    assert MANIFEST["background"]["service_worker"] == "background/main.js"
    assert MANIFEST["background"]["type"] == "module"  # background/main.js imports its modules
    assert version(MANIFEST["minimum_chrome_version"]) >= (116,)  # AbortSignal.any, storage.managed in MV3
    assert "browser_action" not in MANIFEST and "page_action" not in MANIFEST
    assert set(MANIFEST["permissions"]) <= {"storage", "activeTab"}
    # Host access: loopback for the default server; anything else is asked for at runtime.
    assert MANIFEST["host_permissions"] == ["http://127.0.0.1/*", "http://localhost/*"]


def test_firefox_manifest_v3():
    gecko = MANIFEST["browser_specific_settings"]["gecko"]
    assert re.fullmatch(r"[a-z0-9._-]+@[a-z0-9.-]+", gecko["id"])  # an MV3 add-on needs an id
    assert version(gecko["strict_min_version"]) >= (128,)  # MV3 with storage.managed and AbortSignal.any
    # Firefox runs the same background code as an event page.
    assert MANIFEST["background"]["scripts"] == [MANIFEST["background"]["service_worker"]]
    assert gecko["data_collection_permissions"]["required"] == ["personalCommunications"]


def test_each_site_loads_the_shared_scripts_then_its_adapter_then_main():
    for entry in MANIFEST["content_scripts"]:
        assert entry["js"][:len(SHARED)] == SHARED
        adapter, main = entry["js"][len(SHARED):]
        assert re.fullmatch(r"content/adapters/[a-z0-9-]+\.js", adapter) and main == "content/main.js"
        assert all(re.fullmatch(r"https://www\.[a-z]+\.com/\*", pattern) for pattern in entry["matches"])


@pytest.mark.skipif(not WEB_EXT.exists() or shutil.which("node") is None,
                    reason="web-ext is not installed: run `make browser-deps`")
def test_web_ext_lint_finds_no_errors():
    run = subprocess.run([str(WEB_EXT), "lint", "--source-dir", str(EXTENSION), "--no-config-discovery",
                          "--no-input", "--output", "json"], capture_output=True, text=True, timeout=120)
    report = json.loads(run.stdout[run.stdout.index("{"):])
    assert report["errors"] == [], report["errors"]
    assert {warning["code"] for warning in report["warnings"]} <= KNOWN_WARNINGS, report["warnings"]
    assert run.returncode == 0

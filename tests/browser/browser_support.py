"""What the browser tests share besides fixtures: where things are, the fixture pages'
composers, and a few helpers. (Test modules import this; conftest.py holds the fixtures.)"""
from __future__ import annotations

import socket
from pathlib import Path

from playwright.sync_api import expect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXTENSION = ROOT / "extension"
FIXTURES = HERE / "fixtures"
ARTIFACTS = ROOT / "tests" / "artifacts"
# Where Chromium on Linux reads enterprise policy; the managed-settings test writes a file here.
POLICY_FOLDER = Path("/etc/chromium/policies/managed")
POLICY_FILES = "draftguard-test-*.json"

LINKEDIN = "https://www.linkedin.com/feed/"
FACEBOOK = "https://www.facebook.com/"
# The deterministic detectors flag these whatever the model: a credential and a door code.
RISKY = "My password for the VPN is Hunter2Secret! and the door code is 4417"
BENIGN = "Had a lovely weekend hiking with the family"
WAIT = 10_000  # ms; a check takes the 400 ms pause plus a few milliseconds of server time


class Composer:
    """How to open one kind of composer on a fixture page, and where its editor and panel are."""

    def __init__(self, url, opener, scope, editor, surface, submit):
        self.url, self.opener, self.scope, self.surface = url, opener, scope, surface
        self.editor_selector, self.submit_selector = f"{scope} {editor}", f"{scope} {submit}"

    def open(self, browser):
        page = browser.open(self.url)
        page.click(self.opener)
        self.editor(page).wait_for()
        return page

    def editor(self, page):
        return page.locator(self.editor_selector)

    def panel(self, page):
        return page.locator(f"{self.scope} draftguard-panel")

    def submit(self, page):
        return page.locator(self.submit_selector)


QUILL, LEXICAL = ".ql-editor", '[data-lexical-editor="true"]'
COMPOSERS = {
    "linkedin-post": Composer(LINKEDIN, ".share-box-feed-entry__trigger", ".share-box-v2__modal", QUILL, "post", ".share-actions__primary-action"),
    "linkedin-comment": Composer(LINKEDIN, ".comment-button", ".feed-shared-update-v2 > .comments-comment-box", QUILL, "comment", ".comments-comment-box__submit-button--cr"),
    "linkedin-reply": Composer(LINKEDIN, ".comments-comment-social-bar__reply-action-button", ".comments-comment-item__replies-list", QUILL, "comment", ".comments-comment-box__submit-button--cr"),
    "linkedin-message": Composer(LINKEDIN, ".msg-overlay-bubble-header", ".msg-form", ".msg-form__contenteditable", "message", ".msg-form__send-button"),
    "facebook-post": Composer(FACEBOOK, "#open-create-post", '[role="dialog"]', LEXICAL, "post", '[aria-label="Post"]'),
    "facebook-comment": Composer(FACEBOOK, ".open-comment", 'form[role="presentation"]:has(#focused-state-composer-submit)', LEXICAL, "comment", '[aria-label="Comment"]'),
    "facebook-reply": Composer(FACEBOOK, ".open-reply", ".replies", LEXICAL, "comment", '[aria-label="Comment"]'),
}


def expect_state(panel, state: str, timeout: int = WAIT):
    """Waits for the panel's state; on failure says what the extension said instead."""
    try:
        expect(panel).to_have_attribute("data-draftguard-state", state, timeout=timeout)
    except AssertionError as error:
        said = panel.locator(".indicator").evaluate("button => `${button.textContent} (${button.title})`")
        raise AssertionError(f"expected {state!r}; the indicator says {said}") from error


def free_port() -> int:
    """A loopback port nothing listens on (for an unreachable server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

"""Composers are still found when the sites change their markup: the adapters' site-specific
selectors come first, and a semantic fallback (an editor's textbox whose name or placeholder
reads as a post, comment, reply or message, in the site's feed, dialogs or messaging) catches
what they miss. The fixture pages' ?variant= rebuilds their composers as after a redesign."""
from __future__ import annotations

import time

import pytest
import requests
from playwright.sync_api import expect

from .browser_support import FACEBOOK, LINKEDIN, RISKY, expect_state

pytestmark = pytest.mark.browser

# (page, variant, opener, surface, rule expected, the site's publish button)
CASES = {
    # The composer that was missed: Facebook's comment form without role="presentation".
    "facebook-comment-bare": (FACEBOOK, "bare", ".open-comment", "comment", "fallback", 'form [aria-label="Comment"]'),
    "facebook-reply-bare-nested": (FACEBOOK, "bare,nested", ".open-reply", "comment", "fallback", 'form [aria-label="Comment"]'),
    "facebook-comment-renamed": (FACEBOOK, "renamed", ".open-comment", "comment", "specific", 'form [aria-label="Comment"]'),
    "facebook-post-renamed-nested": (FACEBOOK, "renamed,nested", "#open-create-post", "post", "specific", '[role="dialog"] [aria-label="Post"]'),
    "linkedin-post-renamed": (LINKEDIN, "renamed", ".share-box-feed-entry__trigger", "post", "fallback", '[role="dialog"] button:text-is("Post")'),
    "linkedin-comment-renamed-nested": (LINKEDIN, "renamed,nested", ".comment-button", "comment", "fallback", "form button:text-is('Comment')"),
    "linkedin-reply-renamed": (LINKEDIN, "renamed", ".comments-comment-social-bar__reply-action-button", "comment", "fallback", "form button:text-is('Reply')"),
    "linkedin-message-renamed": (LINKEDIN, "renamed", ".msg-overlay-bubble-header", "message", "fallback", "form button:text-is('Send')"),
    "linkedin-comment-nested": (LINKEDIN, "nested", ".comment-button", "comment", "specific", "form button:text-is('Comment')"),
}


@pytest.mark.parametrize("name", CASES)
def test_changed_markup_degrades_to_the_fallback_not_to_silence(browser, name):
    url, variant, opener, surface, rule, submit = CASES[name]
    page = browser.open(f"{url}?variant={variant}")
    page.click(opener)
    panel = page.locator("draftguard-panel")
    expect(panel).to_have_count(1)
    expect(panel).to_have_attribute("data-draftguard-surface", surface)
    expect(panel).to_have_attribute("data-draftguard-rule", rule)
    page.keyboard.type(RISKY, delay=5)
    expect_state(panel, "flagged")

    # The publish button is found too, so "Post anyway?" still holds the draft.
    page.locator(submit).click()
    confirm = panel.get_by_role("alertdialog", name="Post anyway?")
    expect(confirm).to_be_visible()
    assert page.evaluate("window.fixture.published") == []
    confirm.get_by_role("button", name="Post anyway").click()
    expect(page.locator(".published").first).to_contain_text("door code is 4417")
    assert page.problems == []


def test_a_second_editor_added_late_under_changed_markup_is_watched(browser):
    page = browser.open(f"{FACEBOOK}?variant=bare,renamed")
    page.click(".open-comment")
    expect(page.locator("draftguard-panel")).to_have_count(1)
    page.wait_for_timeout(500)
    page.click(".open-reply")  # a second Lexical editor, created later, deeper in the page
    panels = page.locator("draftguard-panel")
    expect(panels).to_have_count(2)
    reply_panel = page.locator(".replies draftguard-panel")
    expect(reply_panel).to_have_attribute("data-draftguard-rule", "fallback")
    page.keyboard.type("the alarm code is 4417", delay=5)
    expect_state(reply_panel, "flagged")
    expect_state(page.locator('[role="article"] > form draftguard-panel'), "idle")
    # Enter publishes a Facebook comment, so it is held here too.
    page.keyboard.press("Enter")
    expect(reply_panel.get_by_role("alertdialog", name="Post anyway?")).to_be_visible()
    assert page.evaluate("window.fixture.published") == []


def test_textboxes_that_are_not_composers_are_left_alone(browser):
    page = browser.open(LINKEDIN)
    page.evaluate("""() => {
        const main = document.querySelector('main');
        for (const label of ['Search messages', 'Notes to self']) {
            const box = document.createElement('div');
            box.contentEditable = 'true';
            box.setAttribute('role', 'textbox');
            box.setAttribute('aria-label', label);
            main.append(box);
        }
        // A message box outside the areas the adapter names (the global header) is not watched either.
        const header = document.querySelector('header');
        header.insertAdjacentHTML('beforeend', '<div contenteditable="true" role="textbox" aria-label="Write a message"></div>');
    }""")
    page.click('[aria-label="Notes to self"]')
    page.keyboard.type(RISKY, delay=2)
    page.wait_for_timeout(800)
    expect(page.locator("draftguard-panel")).to_have_count(0)


def composer_counts(live_server) -> dict:
    reply = requests.get(f"{live_server.url}/v1/admin/stats?days=1", headers={"Authorization": f"Bearer {live_server.admin_token}"}, timeout=10)
    reply.raise_for_status()
    return reply.json()["totals"]["composers"]


def newest_tab_id(browser) -> int:
    """The tab opened last (without the "tabs" permission the extension cannot query by URL)."""
    return browser.worker.evaluate("chrome.tabs.query({}).then(tabs => Math.max(...tabs.map(tab => tab.id)))")


def test_self_diagnosis_in_the_popup_and_counts_for_the_admin(browser, live_server):
    before = composer_counts(live_server).get("facebook", {}).get("comment", {}).get("fallback", 0)
    page = browser.open(f"{FACEBOOK}?variant=bare")
    page.click(".open-comment")
    page.click(".open-reply")
    expect(page.locator('draftguard-panel[data-draftguard-rule="fallback"]')).to_have_count(2)

    popup = browser.extension_page(f"popup/popup.html?tab={newest_tab_id(browser)}")
    expect(popup.locator("#composers")).to_have_text(
        "Watching 2 composers: 2 comment boxes (2 found by the fallback rule: the site's markup may have changed).")
    expect(popup.locator("#site-label")).to_have_text("Check drafts on www.facebook.com")
    popup.close()

    # The server hears counts only (surface, rule, count), batched a few seconds after recognition.
    deadline = time.monotonic() + 15
    while composer_counts(live_server).get("facebook", {}).get("comment", {}).get("fallback", 0) < before + 2:
        assert time.monotonic() < deadline, "the composer counts never reached the server"
        time.sleep(0.5)

    blank = browser.open(LINKEDIN)  # nothing opened: no composer on the page yet
    blank.wait_for_timeout(500)
    popup = browser.extension_page(f"popup/popup.html?tab={newest_tab_id(browser)}")
    expect(popup.locator("#composers")).to_have_text("No composer recognised on this page.")

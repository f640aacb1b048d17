"""The extension in a real browser, on fixture pages that run the sites' real editors (Quill on
LinkedIn, Lexical on Facebook), against the production server."""
from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from .browser_support import (ARTIFACTS, BENIGN, COMPOSERS, EXTENSION, LINKEDIN, POLICY_FILES, POLICY_FOLDER, RISKY, WAIT,
                              expect_state, free_port)

pytestmark = pytest.mark.browser


def policy(server_url) -> dict:
    """The server's categories by id: the card must show the server's words, not the extension's."""
    return {c["id"]: c for c in requests.get(f"{server_url}/v1/policy", timeout=10).json()["categories"]}


def feedback_items(live_server) -> list:
    reply = requests.get(f"{live_server.url}/v1/admin/feedback", headers={"Authorization": f"Bearer {live_server.admin_token}"}, timeout=10)
    reply.raise_for_status()
    return reply.json()["items"]


def editor_snapshot(editor) -> dict:
    """The editor's markup, and where the caret is (as text before it), as the page sees them."""
    return editor.evaluate("""root => {
        const selection = getSelection();
        const range = document.createRange();
        range.setStart(root, 0);
        range.setEnd(selection.focusNode, selection.focusOffset);
        return {html: root.innerHTML, caretAfter: range.toString(), focused: root.contains(document.activeElement)};
    }""")


def published(page) -> list:
    return page.evaluate("window.fixture.published")


@pytest.mark.parametrize("name", ["linkedin-post", "facebook-post"])
def test_risky_draft_typed_key_by_key_is_flagged_then_edited_clean(browser, name):
    composer = COMPOSERS[name]
    page = composer.open(browser)
    editor, panel = composer.editor(page), composer.panel(page)
    expect_state(panel, "idle")

    page.keyboard.type(RISKY, delay=15)
    before = editor_snapshot(editor)  # typed, not yet answered: the pause has not passed
    expect_state(panel, "flagged")
    assert "security" in panel.get_attribute("data-draftguard-categories").split()
    assert editor_snapshot(editor) == before, "the extension changed the editor or moved the caret"
    assert before["caretAfter"] == RISKY and before["focused"]

    card = panel.locator(".card")
    expect(card).to_be_visible()
    first = policy(browser.server_url)[panel.get_attribute("data-draftguard-categories").split()[0]]
    expect(card.locator("h3").first).to_have_text(first["title"])
    expect(card.locator("h3 + p").first).to_have_text(first["guidance"])
    expect(card.get_by_role("link", name="Read the policy").first).to_have_attribute("href", first["policy_ref"])
    expect(card.locator("mark", has_text="4417")).to_be_visible()
    panel.screenshot(path=ARTIFACTS / f"warning-card-{name}.png")
    page.screenshot(path=ARTIFACTS / f"warning-page-{name}.png")

    page.keyboard.type(" ok", delay=15)  # keystrokes after the warning are not lost
    expect(editor).to_contain_text("is 4417 ok")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(BENIGN, delay=5)
    expect_state(panel, "clean")
    assert panel.get_attribute("data-draftguard-categories") is None
    expect(card).to_be_hidden()
    assert editor_snapshot(editor)["caretAfter"] == BENIGN
    assert page.problems == []


@pytest.mark.parametrize("name", ["linkedin-comment", "linkedin-reply", "linkedin-message", "facebook-comment", "facebook-reply"])
def test_every_composer_surface_is_watched(browser, name):
    composer = COMPOSERS[name]
    page = composer.open(browser)
    panel = composer.panel(page)
    expect(panel).to_have_attribute("data-draftguard-surface", composer.surface)
    page.keyboard.type("call me, the door code is 4417", delay=5)
    expect_state(panel, "flagged")
    assert composer.editor(page).locator("draftguard-panel").count() == 0, "the panel must live outside the editor"
    assert page.problems == []


def test_an_editor_added_after_load_is_picked_up_without_focus(browser):
    page = browser.open(LINKEDIN)
    page.evaluate("""() => {
        const form = document.createElement('form');
        form.className = 'comments-comment-box__form';
        form.innerHTML = '<div class="comments-comment-texteditor"><div class="late"></div></div>';
        document.querySelector('.feed-shared-update-v2').append(form);
        new Quill(form.querySelector('.late'), {placeholder: 'Add a comment…'});
    }""")
    panel = page.locator(".comments-comment-box__form draftguard-panel")
    expect_state(panel, "idle")
    page.click(".late .ql-editor")
    page.keyboard.type("pin for the alarm is 4417", delay=5)
    expect_state(panel, "flagged")
    panel.evaluate("panel => panel.remove()")  # as a site re-rendering around the editor would
    expect_state(panel, "flagged")  # put back, with what it had decided
    page.evaluate("document.querySelector('.comments-comment-box__form').remove()")
    expect(page.locator("draftguard-panel")).to_have_count(0)  # destroyed editors are let go


def test_server_down_shows_offline_and_posting_works(browser):
    browser.configure(serverUrl=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    composer = COMPOSERS["linkedin-post"]
    page = composer.open(browser)
    panel = composer.panel(page)
    page.keyboard.type(RISKY, delay=5)
    expect_state(panel, "offline")
    expect(panel.locator(".indicator")).to_contain_text("offline")
    composer.submit(page).click()
    expect(page.locator(".feed-shared-update-v2.published")).to_contain_text("door code is 4417")
    assert published(page) == [{"surface": "post", "text": RISKY}]
    assert page.problems == [], "nothing may throw into the page's console"


def test_keyboard_and_screen_reader_path(browser):
    composer = COMPOSERS["facebook-post"]
    page = composer.open(browser)
    panel, editor = composer.panel(page), composer.editor(page)
    page.keyboard.type(RISKY, delay=5)
    expect_state(panel, "flagged")
    expect(panel.locator("[aria-live]")).to_contain_text("may break the social media policy")
    expect(editor).to_be_focused()  # the warning never takes focus away while typing

    page.keyboard.press("Tab")
    indicator = panel.locator(".indicator")
    expect(indicator).to_be_focused()
    expect(indicator).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")  # closes the card, not the site's dialog
    expect(panel.locator(".card")).to_be_hidden()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Enter")
    expect(panel.locator(".card")).to_be_visible()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("button", name="Mask Hunter2Secret! as [password removed]")).to_be_focused()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("button", name="Mask 4417 as [code removed]")).to_be_focused()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("link", name="Read the policy")).to_be_focused()
    page.keyboard.press("Tab")
    expect(panel.get_by_role("button", name="Dismiss")).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel.locator(".indicator")).to_have_text("Warning dismissed")
    expect(editor).to_be_focused()


def test_server_error_is_shown_quietly_and_posting_works(browser):
    composer = COMPOSERS["linkedin-message"]
    page = composer.open(browser)
    panel = composer.panel(page)
    page.keyboard.insert_text("pasted log: " + "x" * 20_001)  # over the server's limit: 413
    expect_state(panel, "error")
    expect(panel.locator(".indicator")).to_have_attribute("title", re.compile("limit is 20000"))
    composer.submit(page).click()
    expect(page.locator(".msg-s-event-listitem.published")).to_have_count(1)
    assert page.problems == []


def test_post_anyway_asks_once_and_then_posts(browser):
    composer = COMPOSERS["linkedin-post"]
    page = composer.open(browser)
    panel, editor = composer.panel(page), composer.editor(page)
    page.keyboard.type(RISKY, delay=5)
    expect_state(panel, "flagged")

    composer.submit(page).click()
    confirm = panel.get_by_role("alertdialog", name="Post anyway?")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("button", name="Keep editing")).to_be_focused()
    assert published(page) == []
    page.keyboard.press("Enter")  # keyboard: "Keep editing"
    expect(confirm).to_be_hidden()
    expect(editor).to_be_focused()
    assert published(page) == []

    composer.submit(page).click()
    composer.submit(page).click()  # a second click while the question is open changes nothing
    confirm.get_by_role("button", name="Post anyway").click()
    expect(page.locator(".feed-shared-update-v2.published")).to_contain_text(RISKY)
    assert published(page) == [{"surface": "post", "text": RISKY}]


def test_enter_to_publish_in_a_facebook_comment_asks_first(browser):
    composer = COMPOSERS["facebook-comment"]
    page = composer.open(browser)
    panel = composer.panel(page)
    page.keyboard.type(RISKY, delay=5)
    expect_state(panel, "flagged")
    page.keyboard.press("Enter")
    confirm = panel.get_by_role("alertdialog", name="Post anyway?")
    expect(confirm).to_be_visible()
    assert published(page) == []
    confirm.get_by_role("button", name="Post anyway").click()
    expect(page.locator(".comment.published")).to_contain_text(RISKY)
    assert published(page) == [{"surface": "comment", "text": RISKY}]


def test_dismiss_and_false_alarm_reports_reach_the_server(browser, live_server):
    composer = COMPOSERS["linkedin-comment"]
    page = composer.open(browser)
    panel = composer.panel(page)
    page.keyboard.type(RISKY, delay=5)
    expect_state(panel, "flagged")
    categories = panel.get_attribute("data-draftguard-categories").split()
    panel.get_by_role("button", name="Dismiss").click()
    expect(panel.locator(".card")).to_be_hidden()
    expect(panel.locator(".indicator")).to_have_text("Warning dismissed")
    expect_state(panel, "flagged")

    composer.submit(page).click()  # dismissed: publishing is not held up
    expect(page.locator(".comments-comment-item__main-content.published")).to_contain_text(RISKY)

    # The same risky words in a new draft warn again; this time it is reported, with consent.
    composer.editor(page).click()
    draft = "Reminder for the night shift: door code is 4417"
    page.keyboard.type(draft, delay=5)
    expect(panel.locator(".card")).to_be_visible(timeout=WAIT)
    panel.get_by_role("checkbox", name="Include my draft text in the report").check()
    panel.get_by_role("button", name="This is fine — report a false alarm").click()
    expect(panel.locator(".indicator")).to_have_text("Reported as a false alarm — thank you")

    items = feedback_items(live_server)  # newest first
    dismissed = next(i for i in items if i["kind"] == "dismissed" and i["platform"] == "linkedin")
    reported = next(i for i in items if i["kind"] == "false_positive" and i["text"] == draft)
    assert (dismissed["surface"], dismissed["text"], sorted(dismissed["categories"])) == ("comment", None, sorted(categories))
    assert (reported["platform"], reported["surface"]) == ("linkedin", "comment") and reported["model_version"]


def test_false_alarm_without_consent_sends_no_text(browser, live_server):
    composer = COMPOSERS["facebook-reply"]
    page = composer.open(browser)
    panel = composer.panel(page)
    draft = "Text me at the office, my card number is 4111 1111 1111 1111"
    page.keyboard.type(draft, delay=5)
    expect_state(panel, "flagged")
    known = {item["id"] for item in feedback_items(live_server)}
    panel.get_by_role("button", name="This is fine — report a false alarm").click()
    expect(panel.locator(".indicator")).to_have_text("Reported as a false alarm — thank you")
    new = [item for item in feedback_items(live_server) if item["id"] not in known]
    assert [(i["kind"], i["platform"], i["surface"], i["text"]) for i in new] == [("false_positive", "facebook", "comment", None)]


@pytest.mark.parametrize("name", ["linkedin-post", "facebook-post"])
def test_text_read_from_the_real_editor_keeps_lines_and_emoji(browser, live_server, name):
    """What the extension reads (and, with consent, reports) is the draft as written: Quill and
    Lexical paragraphs become lines, and highlights land on the right words after an emoji."""
    composer = COMPOSERS[name]
    page = composer.open(browser)
    panel = composer.panel(page)
    for i, line in enumerate(["Team update 🎉🎉", "", "Night shift: door code is 4417"]):
        if i:
            page.keyboard.press("Enter")
        page.keyboard.type(line, delay=5)
    expect_state(panel, "flagged")
    expect(panel.locator("mark", has_text="4417")).to_have_text("4417")
    known = {item["id"] for item in feedback_items(live_server)}
    panel.get_by_role("checkbox", name="Include my draft text in the report").check()
    panel.get_by_role("button", name="This is fine — report a false alarm").click()
    expect(panel.locator(".indicator")).to_have_text("Reported as a false alarm — thank you")
    [reported] = [item for item in feedback_items(live_server) if item["id"] not in known]
    assert reported["text"] == "Team update 🎉🎉\n\nNight shift: door code is 4417"


def test_options_page_saves_and_tests_the_connection(browser, live_server):
    options = browser.extension_page("options/options.html")
    expect(options.locator("#serverUrl")).to_have_value(live_server.url)
    options.locator("#apiToken").fill("not-needed-here")
    options.get_by_role("checkbox", name="facebook").uncheck()
    options.get_by_role("button", name="Save").click()
    expect(options.locator("#status")).to_have_text("Saved.")
    stored = browser.worker.evaluate("chrome.storage.local.get(null)")
    assert stored["enabledSites"] == ["linkedin"] and stored["apiToken"] == "not-needed-here"

    options.get_by_role("button", name="Test connection").click()
    model_version = requests.get(f"{live_server.url}/healthz", timeout=10).json()["model_version"]
    expect(options.locator("#status")).to_contain_text(f"Connected. Model {model_version}")

    # A disabled site gets no panel and sends nothing.
    composer = COMPOSERS["facebook-post"]
    page = composer.open(browser)
    page.keyboard.type(RISKY, delay=5)
    page.wait_for_timeout(800)
    expect(page.locator("draftguard-panel")).to_have_count(0)

    popup = browser.extension_page("popup/popup.html")
    expect(popup.locator("#server")).to_contain_text(f"Model {model_version}")


def unpacked_extension_id(path: Path) -> str:
    """Chromium's id for an unpacked extension: its path's sha256, hex digits 0-f written a-p."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


@pytest.fixture
def managed_policy(live_server):
    """Pushes settings to the extension the way IT does: Chromium's managed policy folder."""
    try:
        POLICY_FOLDER.mkdir(parents=True, exist_ok=True)
        path = POLICY_FOLDER / POLICY_FILES.replace("*", str(os.getpid()))
        values = {"serverUrl": live_server.url, "enabledSites": ["linkedin"]}
        path.write_text(json.dumps({"3rdparty": {"extensions": {unpacked_extension_id(EXTENSION): values}}}))
    except PermissionError:
        pytest.skip(f"writing Chromium's policy folder needs root (running as {getpass.getuser()})")
    yield values
    path.unlink()


def test_managed_settings_take_precedence_and_are_locked(managed_policy, browser_factory):
    browser = browser_factory()
    assert browser.extension_id == unpacked_extension_id(EXTENSION)
    browser.configure(serverUrl="http://127.0.0.1:9", enabledSites=["linkedin", "facebook"])  # overridden
    options = browser.extension_page("options/options.html")
    expect(options.locator("#managed-note")).to_be_visible()
    server_url = options.locator("#serverUrl")
    expect(server_url).to_have_value(managed_policy["serverUrl"])
    expect(server_url).to_be_disabled()
    expect(options.locator('[data-key="serverUrl"] .locked')).to_have_text("Set by your organization")
    expect(options.get_by_role("checkbox", name="facebook")).to_be_disabled()
    expect(options.locator("#apiToken")).to_be_enabled()  # not managed: still the employee's

    # The managed server URL is the one in use.
    composer = COMPOSERS["linkedin-post"]
    page = composer.open(browser)
    page.keyboard.type(RISKY, delay=5)
    expect_state(composer.panel(page), "flagged")


def test_enter_to_send_in_linkedin_messaging_is_held_once_learnt(browser):
    """LinkedIn messaging sends on Enter only if the employee chose "Press Enter to Send". The
    extension learns which from what Enter does, remembers it, and then holds that Enter too."""
    composer = COMPOSERS["linkedin-message"]
    page = composer.open(browser)
    panel, editor = composer.panel(page), composer.editor(page)
    expect_state(panel, "idle")  # watched from here on
    page.check("text=Press Enter to Send")
    editor.click()
    page.keyboard.type("Hi Sam, thanks for the intro", delay=5)
    page.keyboard.press("Enter")  # sent: now the extension knows Enter sends here
    expect(page.locator(".msg-s-event-listitem.published")).to_have_count(1)
    page.wait_for_timeout(500)

    page.keyboard.type(RISKY, delay=5)
    expect_state(panel, "flagged")
    page.keyboard.press("Enter")
    confirm = panel.get_by_role("alertdialog", name="Post anyway?")
    expect(confirm).to_be_visible()
    assert len(published(page)) == 1
    page.keyboard.press("Escape")  # keep editing
    expect(editor).to_be_focused()
    expect(editor).to_have_text(RISKY)  # no newline slipped in
    page.keyboard.press("Enter")
    confirm.get_by_role("button", name="Post anyway").click()
    expect(page.locator(".msg-s-event-listitem.published")).to_have_count(2)
    assert published(page)[-1] == {"surface": "message", "text": RISKY}

    # Remembered for the next visit: held from the first warning.
    page = composer.open(browser)
    page.check("text=Press Enter to Send")
    composer.editor(page).click()
    page.keyboard.type(RISKY, delay=5)
    expect_state(composer.panel(page), "flagged")
    page.keyboard.press("Enter")
    expect(composer.panel(page).get_by_role("alertdialog", name="Post anyway?")).to_be_visible()
    assert published(page) == []


def test_enter_for_a_new_line_in_linkedin_messaging_is_never_held(browser):
    composer = COMPOSERS["linkedin-message"]
    page = composer.open(browser)
    panel, editor = composer.panel(page), composer.editor(page)
    expect_state(panel, "idle")
    page.keyboard.type("Hi Sam,", delay=5)
    page.keyboard.press("Enter")  # a new line: Enter does not send here
    page.wait_for_timeout(500)
    page.keyboard.type(RISKY, delay=5)
    expect_state(panel, "flagged")
    page.keyboard.press("Enter")
    page.keyboard.type("Thanks", delay=5)
    expect(editor).to_have_text(re.compile(r"Hi Sam,\s*" + re.escape(RISKY) + r"\s*Thanks"))
    expect(panel.get_by_role("alertdialog", name="Post anyway?")).to_be_hidden()
    assert published(page) == []

"""One-click masking in the real editors: the card's "Mask" replaces a secret with the server's
placeholder through the editor's own input path, so Quill's and Lexical's state, the caret and
the undo history stay consistent, and the draft is checked again."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .browser_support import COMPOSERS, WAIT, expect_state

pytestmark = pytest.mark.browser

CARD = "4111 1111 1111 1111"
DRAFT = f"Please refund my card {CARD} today"
MASKED = "Please refund my card [card number removed] today"

CARET = """root => {
    const selection = getSelection();
    const range = document.createRange();
    range.setStart(root, 0);
    range.setEnd(selection.focusNode, selection.focusOffset);
    return {caretAfter: range.toString(), focused: root.contains(document.activeElement)};
}"""


def editor_text(editor) -> str:
    return editor.evaluate("root => root.innerText").strip()


@pytest.mark.parametrize("name", ["linkedin-post", "facebook-post"])
def test_mask_replaces_the_secret_keeps_caret_and_undo_and_rechecks_clean(browser, name):
    composer = COMPOSERS[name]
    page = composer.open(browser)
    editor, panel = composer.editor(page), composer.panel(page)
    page.keyboard.type(DRAFT, delay=5)
    expect_state(panel, "flagged")
    assert "privacy" in panel.get_attribute("data-draftguard-categories").split()
    mask = panel.get_by_role("button", name=f"Mask {CARD} as [card number removed]")
    expect(mask).to_be_visible()
    # Someone reads the card before clicking; Quill groups edits made within one second into a
    # single undo step, and this keeps the mask its own step.
    page.wait_for_timeout(1100)

    mask.click()
    expect(editor).to_have_text(MASKED)
    where = editor.evaluate(CARET)
    assert where == {"caretAfter": "Please refund my card [card number removed]", "focused": True}
    expect(panel.locator("[aria-live]")).to_contain_text("Replaced with [card number removed]")
    expect_state(panel, "clean")  # the masked draft was checked again

    page.keyboard.press("ControlOrMeta+z")  # the editor's own undo brings the number back
    expect(editor).to_have_text(DRAFT)
    expect_state(panel, "flagged")
    page.keyboard.press("ControlOrMeta+Shift+z")  # and redo masks it again
    expect(editor).to_have_text(MASKED)
    expect_state(panel, "clean")

    # The editor's own model holds the masked text: that is what the site publishes.
    composer.submit(page).click()
    assert page.evaluate("window.fixture.published") == [{"surface": "post", "text": MASKED}]
    assert page.problems == []


def test_mask_after_further_edits_finds_the_words_where_they_now_are(browser):
    composer = COMPOSERS["facebook-comment"]
    page = composer.open(browser)
    editor, panel = composer.editor(page), composer.panel(page)
    page.keyboard.type("door code is 4417, card " + CARD, delay=5)
    expect_state(panel, "flagged")
    page.keyboard.press("Home")
    page.keyboard.type("Night shift: ", delay=5)  # the offsets the server sent are now stale
    panel.get_by_role("button", name="Mask 4417 as [code removed]").click()
    expect(editor).to_have_text(f"Night shift: door code is [code removed], card {CARD}")
    panel.get_by_role("button", name=f"Mask {CARD} as [card number removed]").click()
    expect(editor).to_have_text("Night shift: door code is [code removed], card [card number removed]")
    # Checked again: the card number no longer flags privacy (the words "door code" may still
    # read as security to the model, which is its call).
    page.wait_for_function("""panel => {
        const state = panel.getAttribute('data-draftguard-state');
        return state === 'clean' || (state === 'flagged' && !panel.getAttribute('data-draftguard-categories').split(' ').includes('privacy'));
    }""", arg=panel.element_handle(), timeout=WAIT)
    assert page.problems == []

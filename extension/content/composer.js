// One watched composer: it observes the editor (writing to it only when the employee asks for
// a secret to be masked), lets the check
// loop decide when to ask the server, turns the answer into what the panel shows, and knows
// whether a warning is still open when the employee goes to publish.
(function (draftguard) {
  "use strict";

  const PAUSE_MS = 400;
  const { toUtf16Ranges, excerpts, maskable } = draftguard.spans;

  class Composer {
    constructor(site, editor, surface) {
      Object.assign(this, { site, editor, surface });
      this.outcome = { state: "idle" };
      this.shown = new Set(); // flagged categories the employee has already been shown
      this.dismissed = new Set(); // ... and dismissed, for this draft
      this.asking = false; // the "Post anyway?" question is open

      this.panel = new draftguard.Panel(surface.name, {
        onDismiss: () => this.dismiss("dismissed"),
        onReport: (includeText) => this.dismiss("false_positive", includeText),
        onClose: () => this.editor.focus(),
        onMask: (span) => this.mask(span),
      });
      this.panel.host.setAttribute("data-draftguard-rule", surface.rule); // "specific" | "fallback"
      this.mount();

      this.loop = new draftguard.CheckLoop({
        wait: PAUSE_MS,
        read: () => site.readText(editor),
        send: (text, signal) => draftguard.messenger.check(text, surface.name, signal)
          .then((outcome) => ({ ...outcome, text })),
        report: (outcome) => this.show(outcome),
        isSettled: (outcome) => outcome.state === "clean" || outcome.state === "flagged",
      });
      this.observer = new MutationObserver(() => this.loop.changed());
      this.observer.observe(editor, { childList: true, characterData: true, subtree: true });
      this.loop.changed(); // a draft restored by the site is checked too
    }

    // The site may re-render the area around the editor and drop the panel with it.
    mount() {
      if (!this.panel.host.isConnected) this.site.anchorOf(this.editor, this.surface).after(this.panel.host);
    }

    destroy() {
      this.observer.disconnect();
      this.loop.stop();
      this.panel.remove();
    }

    flaggedIds() {
      return this.outcome.state === "flagged" ? this.outcome.categories.map((c) => c.id) : [];
    }

    hasOpenWarning() {
      return this.flaggedIds().some((id) => !this.dismissed.has(id));
    }

    show(outcome) {
      if (outcome.state === "idle") this.forgetDraft(); // an emptied composer starts a new draft
      if (outcome.state === "checking" && this.outcome.state === "flagged") {
        return; // keep the warning on screen while the edited draft is being checked
      }
      this.outcome = outcome.state === "flagged" ? this.flaggedView(outcome) : outcome;
      const ids = this.flaggedIds();
      const isNew = ids.some((id) => !this.shown.has(id) && !this.dismissed.has(id));
      ids.forEach((id) => this.shown.add(id));
      this.panel.show({ ...this.outcome, isNew, dismissed: !this.hasOpenWarning() });
    }

    // Keeps the flagged categories, with the server's words for them and quoted excerpts.
    flaggedView(outcome) {
      const categories = outcome.categories.filter((c) => c.flagged).map((c) => ({
        id: c.id,
        title: c.title || c.id,
        guidance: c.guidance,
        policyRef: c.policy_ref,
        excerpts: excerpts(outcome.text, toUtf16Ranges(outcome.text, c.spans)),
        masks: maskable(outcome.text, c.spans),
      }));
      return { ...outcome, categories };
    }

    // "Mask": replaces a secret the server pointed at with its placeholder, through the editor's
    // own input path: the span is selected and the browser inserts the placeholder as if typed
    // (execCommand "insertText"), so Quill's and Lexical's state, their undo history (Ctrl+Z
    // brings the text back) and the caret (after the placeholder) stay the editor's. This is
    // the one time the extension writes to the editor, and only on the employee's click.
    // span: {start, end, text, mask} in UTF-16 offsets of the checked text. Returns whether it
    // was replaced; the change is then checked again like any edit.
    mask(span) {
      const text = this.site.readText(this.editor);
      let { start, end } = span;
      if (text.slice(start, end) !== span.text) {
        // Edited since the check: the same words nearest to where they were.
        const before = text.lastIndexOf(span.text, start);
        const after = text.indexOf(span.text, start);
        const candidates = [before, after].filter((at) => at >= 0);
        if (!candidates.length) return false;
        start = candidates.reduce((best, at) => (Math.abs(at - span.start) < Math.abs(best - span.start) ? at : best));
        end = start + span.text.length;
      }
      const range = draftguard.text.rangeOf(this.editor, start, end);
      if (!range) return false;
      this.editor.focus();
      const selection = this.editor.ownerDocument.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      const inserted = this.editor.ownerDocument.execCommand("insertText", false, span.mask);
      return inserted && this.site.readText(this.editor) === text.slice(0, start) + span.mask + text.slice(end);
    }

    // "Dismiss" and "report a false alarm" both close the warning for this draft; the report
    // carries the draft only when the employee ticked the consent box.
    async dismiss(kind, includeText = false) {
      const categories = this.flaggedIds();
      categories.forEach((id) => this.dismissed.add(id));
      this.panel.show({ ...this.outcome, dismissed: true });
      const report = {
        kind,
        categories,
        model_version: this.outcome.model_version,
        surface: this.surface.name,
        consent: includeText,
        ...(includeText ? { text: this.outcome.text } : {}),
      };
      this.editor.focus(); // the card is closed: back to writing
      const reply = await draftguard.messenger.feedback(report);
      return Boolean(reply && reply.ok);
    }

    // The draft went out or was emptied: whatever comes next has its own warnings.
    forgetDraft() {
      this.shown.clear();
      this.dismissed.clear();
    }

    submitButton() {
      return this.site.submitButtonOf(this.editor, this.surface);
    }

    // Called when the employee is about to publish while a warning is open: asks once (more
    // clicks while the question is open are ignored), and when they go ahead, dismisses the
    // warning (so the click is no longer held) and publishes through the site's own button.
    async confirmSubmit(button) {
      if (this.asking) return;
      this.asking = true;
      const postAnyway = await this.panel.askToPost();
      this.asking = false;
      if (postAnyway) {
        this.dismiss("dismissed");
        button.click();
      }
    }
  }

  draftguard.Composer = Composer;
})(globalThis.draftguard ??= {});

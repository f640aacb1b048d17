// Entry point on a supported site: finds composers as the single-page app creates and
// destroys them, and catches the publish click (or Enter) while a warning is still open.
(function (draftguard) {
  "use strict";

  const site = draftguard.site;
  const composers = new Map(); // editor element -> Composer
  const pageObserver = new MutationObserver(onPageMutations);
  let scanTimer = null;
  let running = false;

  function attach(editor) {
    const surface = !composers.has(editor) && site.surfaceOf(editor);
    if (!surface) return;
    composers.set(editor, new draftguard.Composer(site, editor, surface));
    seen(surface);
  }

  // Self-diagnosis, counts only: how many composers are watched here, of which surface and
  // found by which rule. The popup asks for the current page's; the server hears of each
  // composer recognised (batched), so the admin statistics show when a site's markup changed.
  const REPORT_AFTER_MS = 5000;
  let unreported = new Map(); // "surface:rule" -> count
  let reportTimer = null;

  function tally(surfaces) {
    const counts = new Map();
    for (const { name, rule } of surfaces) counts.set(`${name}:${rule}`, (counts.get(`${name}:${rule}`) || 0) + 1);
    return counts;
  }

  function asList(counts) {
    return [...counts].map(([key, count]) => {
      const [surface, rule] = key.split(":");
      return { surface, rule, count };
    });
  }

  function seen(surface) {
    const key = `${surface.name}:${surface.rule}`;
    unreported.set(key, (unreported.get(key) || 0) + 1);
    if (reportTimer === null) reportTimer = setTimeout(report, REPORT_AFTER_MS);
  }

  function report() {
    reportTimer = null;
    const counts = asList(unreported);
    unreported = new Map();
    if (counts.length) draftguard.messenger.diagnostics(counts);
  }

  function watching() {
    const live = [...composers].filter(([editor]) => editor.isConnected).map(([, composer]) => composer.surface);
    return { running, watching: live.length, composers: asList(tally(live)), url: location.href };
  }

  chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
    if (!message || message.type !== "composers" || sender.id !== chrome.runtime.id || sender.tab) return false;
    sendResponse(watching());
    return false;
  });

  function scan() {
    scanTimer = null;
    for (const [editor, composer] of composers) {
      if (editor.isConnected) {
        composer.mount();
      } else {
        composer.destroy();
        composers.delete(editor);
      }
    }
    site.editorsIn(document).forEach(attach);
  }

  // Typing inside an editor is the composer's business; anything else that adds or removes
  // nodes may have created or destroyed a composer. Rescan at most every 200 ms.
  function onPageMutations(records) {
    const elsewhere = records.some((record) => !composers.has(site.editorOf(record.target)));
    if (elsewhere && scanTimer === null) scanTimer = setTimeout(scan, 200);
  }

  function onFocusIn(event) {
    const editor = site.editorOf(event.target);
    if (editor) attach(editor);
  }

  // Publishing (the site's button, or Enter where that publishes) is held, once, while a
  // warning is open; otherwise it goes through and ends the draft.
  function onPublish(event, composer, button) {
    if (composer.hasOpenWarning()) {
      event.preventDefault();
      event.stopImmediatePropagation();
      composer.confirmSubmit(button);
    } else {
      composer.forgetDraft();
    }
  }

  function onClick(event) {
    if (!(event.target instanceof Element)) return;
    for (const composer of composers.values()) {
      const button = composer.submitButton();
      if (button && button.contains(event.target)) return onPublish(event, composer, button);
    }
  }

  // Where Enter sends only if the employee chose so (LinkedIn messaging's "Press Enter to Send"),
  // what Enter does is learnt from the employee's own Enter presses: a draft that empties
  // sends, a draft that gains a line does not. Remembered per site in the extension's storage
  // (never the page's), so it holds from the first warning on the next visit.
  const ENTER_KEY = "enterSends";
  let enterSends = {}; // surface name -> true | false, for this site's host
  chrome.storage.local.get(ENTER_KEY).then((stored) => {
    enterSends = { ...((stored[ENTER_KEY] || {})[location.host] || {}), ...enterSends };
  }, () => {});

  function learnEnter(composer) {
    const before = composer.site.readText(composer.editor);
    if (!before.trim()) return;
    setTimeout(() => {
      const after = composer.editor.isConnected ? composer.site.readText(composer.editor) : "";
      const lines = (text) => text.split("\n").length;
      const sends = !after.trim() ? true : lines(after) > lines(before) ? false : null;
      if (sends === null || enterSends[composer.surface.name] === sends) return;
      enterSends[composer.surface.name] = sends;
      chrome.storage.local.get(ENTER_KEY).then((stored) => {
        const all = stored[ENTER_KEY] || {};
        all[location.host] = { ...(all[location.host] || {}), [composer.surface.name]: sends };
        return chrome.storage.local.set({ [ENTER_KEY]: all });
      }).catch(() => {});
    }, 300);
  }

  function onKeyDown(event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    const composer = composers.get(site.editorOf(event.target));
    if (!composer) return;
    const { surface } = composer;
    const publishes = surface.submitsOnEnter || (surface.enterMaySend && enterSends[surface.name] === true);
    const button = publishes && composer.submitButton();
    if (button) onPublish(event, composer, button);
    if (surface.enterMaySend && !event.defaultPrevented) learnEnter(composer);
  }

  function start() {
    if (running) return;
    running = true;
    document.addEventListener("focusin", onFocusIn, true);
    document.addEventListener("click", onClick, true);
    document.addEventListener("keydown", onKeyDown, true);
    pageObserver.observe(document.documentElement, { childList: true, subtree: true });
    scan();
  }

  function stop() {
    if (!running) return;
    running = false;
    document.removeEventListener("focusin", onFocusIn, true);
    document.removeEventListener("click", onClick, true);
    document.removeEventListener("keydown", onKeyDown, true);
    pageObserver.disconnect();
    clearTimeout(scanTimer);
    scanTimer = null;
    clearTimeout(reportTimer);
    reportTimer = null;
    unreported = new Map(); // a switched-off site reports nothing
    composers.forEach((composer) => composer.destroy());
    composers.clear();
  }

  // The site can be switched on and off from the popup, the options page or by policy. No
  // answer at all (the extension was reloaded underneath the page) changes nothing.
  async function applySettings() {
    const reply = await draftguard.messenger.siteEnabled();
    if (reply.enabled) start();
    else if (reply.enabled === false) stop();
  }

  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === "local" && Object.keys(changes).every((key) => key === ENTER_KEY)) return;
    applySettings();
  });
  applySettings();
})(globalThis.draftguard ??= {});

// The content script's only way out: messages to the background service worker, which alone
// talks to the Draftguard server and works out the platform from the page the message came
// from. Nothing here may throw into the page, so a failed message
// (service worker asleep and waking, extension reloaded underneath the page) becomes an
// "offline" outcome instead.
(function (draftguard) {
  "use strict";

  async function ask(message) {
    try {
      return (await chrome.runtime.sendMessage(message)) ?? { state: "offline" };
    } catch {
      return { state: "offline", message: "The Draftguard extension is not reachable; reload the page." };
    }
  }

  // Resolves to an outcome {state: "clean" | "flagged" | "offline" | "error", ...}; rejects
  // only when `signal` aborts, after telling the service worker to abort the request too.
  async function check(text, surface, signal) {
    const id = crypto.randomUUID();
    const cancel = () => ask({ type: "cancel", id });
    signal.addEventListener("abort", cancel, { once: true });
    const outcome = await ask({ type: "check", id, text, surface });
    signal.removeEventListener("abort", cancel);
    if (signal.aborted) throw new DOMException("superseded", "AbortError");
    return outcome;
  }

  function feedback(report) {
    return ask({ type: "feedback", report });
  }

  // [{surface, rule, count}]: composers recognised on this page; counts only, never text.
  function diagnostics(composers) {
    return ask({ type: "diagnostics", composers });
  }

  function siteEnabled() {
    return ask({ type: "site-enabled" });
  }

  draftguard.messenger = { check, feedback, diagnostics, siteEnabled };
})(globalThis.draftguard ??= {});

// When to ask the server about a draft. The editor reports every change; the loop waits for
// a pause (debounce), sends the text, aborts a request whose text has since changed, and never
// sends the same text twice in a row: coming back to the text last checked just brings back
// its answer. It knows nothing about the DOM or the extension APIs, so it is unit-tested
// with fake timers and a fake `send`.
(function (draftguard) {
  "use strict";

  // Options:
  //   wait      pause in ms before a check
  //   read()    -> the current text
  //   send(text, signal) -> Promise of an outcome ({state, ...}); rejects when aborted
  //   report(outcome) called with {state: "idle" | "checking"} or what `send` resolved to
  //   isSettled(outcome) -> whether an outcome may be reused for the same text
  class CheckLoop {
    constructor({ wait, read, send, report, isSettled, timers = globalThis }) {
      Object.assign(this, { wait, read, send, report, isSettled, timers });
      this.timer = null;
      this.inflight = null; // AbortController of the request being answered
      this.last = null; // {text, outcome} of the last settled answer
    }

    changed() {
      this.abortInflight();
      this.timers.clearTimeout(this.timer);
      this.timer = this.timers.setTimeout(() => this.run(), this.wait);
    }

    stop() {
      this.abortInflight();
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }

    abortInflight() {
      if (this.inflight) this.inflight.abort();
      this.inflight = null;
    }

    run() {
      this.timer = null;
      const text = this.read();
      if (!text.trim()) {
        this.last = null;
        this.report({ state: "idle" });
        return;
      }
      if (this.last && this.last.text === text) {
        this.report(this.last.outcome);
        return;
      }
      const controller = new AbortController();
      this.inflight = controller;
      this.report({ state: "checking" });
      this.send(text, controller.signal).then(
        (outcome) => {
          if (this.inflight !== controller) return; // superseded while in flight
          this.inflight = null;
          this.last = this.isSettled(outcome) ? { text, outcome } : null;
          this.report(outcome);
        },
        () => {} // aborted: a newer run reports instead
      );
    }
  }

  draftguard.CheckLoop = CheckLoop;
})(globalThis.draftguard ??= {});

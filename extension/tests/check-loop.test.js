"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load } = require("./helpers");

const { CheckLoop } = load("check-loop.js");

// A loop over a mutable draft with a fake server whose answers the test releases by hand.
function harness(t) {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const h = { draft: "", sent: [], reports: [], pending: [] };
  h.loop = new CheckLoop({
    wait: 400,
    read: () => h.draft,
    send: (text, signal) => new Promise((resolve, reject) => {
      h.sent.push(text);
      signal.addEventListener("abort", () => reject(new Error("aborted")));
      h.pending.push({ text, signal, answer: (outcome) => resolve(outcome) });
    }),
    report: (outcome) => h.reports.push(outcome.state),
    isSettled: (outcome) => outcome.state === "clean" || outcome.state === "flagged",
  });
  h.type = (draft) => { h.draft = draft; h.loop.changed(); };
  h.settle = () => new Promise((resolve) => setImmediate(resolve));
  return h;
}

test("waits for a pause of 400 ms before sending", (t) => {
  const h = harness(t);
  h.type("h"); t.mock.timers.tick(300);
  h.type("he"); t.mock.timers.tick(399);
  assert.deepEqual(h.sent, []);
  t.mock.timers.tick(1);
  assert.deepEqual(h.sent, ["he"]);
  assert.deepEqual(h.reports, ["checking"]);
});

test("a change aborts the request in flight and only the newest answer is reported", async (t) => {
  const h = harness(t);
  h.type("door code"); t.mock.timers.tick(400);
  const first = h.pending[0];
  h.type("door code 4417");
  assert.equal(first.signal.aborted, true);
  t.mock.timers.tick(400);
  first.answer({ state: "clean" }); // too late: must be ignored
  h.pending[1].answer({ state: "flagged" });
  await h.settle();
  assert.deepEqual(h.sent, ["door code", "door code 4417"]);
  assert.deepEqual(h.reports, ["checking", "checking", "flagged"]);
});

test("the same text is never sent twice in a row; its answer comes back instead", async (t) => {
  const h = harness(t);
  h.type("pin 4417"); t.mock.timers.tick(400);
  h.pending[0].answer({ state: "flagged" });
  await h.settle();
  h.type("pin 4417 "); h.type("pin 4417"); t.mock.timers.tick(400); // typed and deleted a space
  h.loop.changed(); t.mock.timers.tick(400); // a re-render with no text change
  assert.deepEqual(h.sent, ["pin 4417"]);
  assert.deepEqual(h.reports, ["checking", "flagged", "flagged", "flagged"]);
});

test("failed checks are not remembered, so the same text is tried again later", async (t) => {
  const h = harness(t);
  h.type("hello"); t.mock.timers.tick(400);
  h.pending[0].answer({ state: "offline" });
  await h.settle();
  h.loop.changed(); t.mock.timers.tick(400);
  assert.deepEqual(h.sent, ["hello", "hello"]);
});

test("an empty or blank draft is idle and sends nothing", (t) => {
  const h = harness(t);
  h.type("  \n "); t.mock.timers.tick(400);
  assert.deepEqual(h.sent, []);
  assert.deepEqual(h.reports, ["idle"]);
});

test("stop() cancels the pending check and the request in flight", (t) => {
  const h = harness(t);
  h.type("a"); t.mock.timers.tick(400);
  h.type("ab");
  h.loop.stop();
  t.mock.timers.tick(1000);
  assert.equal(h.pending[0].signal.aborted, true);
  assert.deepEqual(h.sent, ["a"]);
});

"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load } = require("./helpers");

const { toUtf16Ranges, excerpts, maskable } = load("spans.js").spans;

// What the server does: offsets are Python string indices, i.e. code points.
function serverSpan(text, words) {
  const points = Array.from(text);
  const joined = points.join("");
  const utf16 = joined.indexOf(words);
  const start = Array.from(joined.slice(0, utf16)).length;
  return { start, end: start + Array.from(words).length, text: words };
}

test("offsets without astral characters pass through", () => {
  const text = "The door code is 4417";
  assert.deepEqual(toUtf16Ranges(text, [serverSpan(text, "4417")]), [{ start: 17, end: 21 }]);
});

test("code point offsets after emoji become UTF-16 offsets", () => {
  const text = "🎉🎉 new hire! 👋 password is Hunter2Secret";
  const span = serverSpan(text, "Hunter2Secret");
  assert.equal(span.start, text.indexOf("Hunter2Secret") - 3); // three emoji, one unit each in Python
  const [range] = toUtf16Ranges(text, [span]);
  assert.equal(text.slice(range.start, range.end), "Hunter2Secret");
});

test("a span covering an emoji keeps the whole surrogate pair", () => {
  const text = "call me 📞 555-0100";
  const [range] = toUtf16Ranges(text, [serverSpan(text, "📞 555-0100")]);
  assert.equal(text.slice(range.start, range.end), "📞 555-0100");
});

test("spans whose text does not match are dropped, overlapping ones merged", () => {
  const text = "wifi password Zebra42! today";
  const ranges = toUtf16Ranges(text, [
    { start: 5, end: 13, text: "password" },
    { start: 5, end: 22, text: "password Zebra42!" },
    { start: 0, end: 4, text: "nope" },
    { start: 9, end: 9, text: "" },
  ]);
  assert.deepEqual(ranges, [{ start: 5, end: 22 }]);
});

test("excerpts quote a little context, mark the flagged words and say where they were cut", () => {
  const text = "We had a long and lovely offsite in the mountains, and by the way the VPN password is Hunter2Secret so log in whenever you like, all of you.";
  const [excerpt] = excerpts(text, toUtf16Ranges(text, [serverSpan(text, "Hunter2Secret")]), { context: 20 });
  assert.deepEqual(excerpt.parts, [
    { text: "the VPN password is ", flagged: false },
    { text: "Hunter2Secret", flagged: true },
    { text: " so log in whenever you", flagged: false }, // widened to the end of the word
  ]);
  assert.equal(excerpt.clippedStart, true);
  assert.equal(excerpt.clippedEnd, true);
});

test("nearby spans share one excerpt, distant ones get their own, capped by limit", () => {
  const text = "code 4417 and pin 9921" + " filler".repeat(30) + " key ABCD" + " more".repeat(30) + " last X1";
  const ranges = toUtf16Ranges(text, ["4417", "9921", "ABCD", "X1"].map((w) => serverSpan(text, w)));
  const all = excerpts(text, ranges, { context: 10, limit: 5 });
  assert.equal(all.length, 3);
  assert.deepEqual(all[0].parts.filter((p) => p.flagged).map((p) => p.text), ["4417", "9921"]);
  assert.equal(all[0].clippedStart, false);
  assert.equal(excerpts(text, ranges, { context: 10, limit: 2 }).length, 2);
});

test("a whole short draft is quoted without clipping", () => {
  const text = "pin 4417";
  const [excerpt] = excerpts(text, toUtf16Ranges(text, [serverSpan(text, "4417")]));
  assert.deepEqual(excerpt, { parts: [{ text: "pin ", flagged: false }, { text: "4417", flagged: true }], clippedStart: false, clippedEnd: false });
});

test("maskable spans: only those with a placeholder, in UTF-16, checked, once each", () => {
  const text = "🎉 card 4111 1111 1111 1111, code 4417, acquiring Northwind";
  const card = { ...serverSpan(text, "4111 1111 1111 1111"), source: "detector", detector: "payment_card", mask: "[card number removed]" };
  const code = { ...serverSpan(text, "4417"), source: "detector", detector: "access_code", mask: "[code removed]" };
  const model = { ...serverSpan(text, "acquiring Northwind"), source: "model" };
  const stale = { ...serverSpan(text, "4417"), text: "9999", mask: "[code removed]" };
  const found = maskable(text, [code, model, card, code, stale]);
  assert.deepEqual(found.map((s) => [text.slice(s.start, s.end), s.mask]), [
    ["4111 1111 1111 1111", "[card number removed]"],
    ["4417", "[code removed]"],
  ]);
});

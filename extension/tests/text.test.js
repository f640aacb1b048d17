"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load, text, el } = require("./helpers");

const { editorText, rangeOf } = load("text.js").text;
const editor = (...children) => el("div", children);

test("Quill: one paragraph per line, <p><br></p> is an empty line", () => {
  const root = editor(el("p", [text("Big news")]), el("p", [el("br")]), el("p", [text("More soon")]));
  assert.equal(editorText(root), "Big news\n\nMore soon");
});

test("Lexical: text in spans, a line break inside a paragraph, trailing break kept", () => {
  const root = editor(
    el("p", [el("span", [text("door code")]), el("br"), el("span", [text("is 4417")])]),
    el("p", [el("span", [text("bye")]), el("br"), el("br")]),
  );
  assert.equal(editorText(root), "door code\nis 4417\nbye\n");
});

test("an empty editor (placeholder paragraph) reads as empty", () => {
  assert.equal(editorText(editor(el("p", [el("br")]))), "");
  assert.equal(editorText(editor()), "");
});

test("inline formatting and mentions do not split words or lines", () => {
  const root = editor(el("p", [text("Ask "), el("strong", [text("Dana")]), el("a", [text(" @Lee")]), text(" today")]));
  assert.equal(editorText(root), "Ask Dana @Lee today");
});

test("plain contenteditable: first line as bare text, then <div> lines", () => {
  const root = editor(text("first"), el("div", [text("second")]), el("div", [el("br")]), el("div", [text("fourth")]));
  assert.equal(editorText(root), "first\nsecond\n\nfourth");
});

test("nested blocks produce one line each, no doubled breaks", () => {
  const root = editor(el("div", [el("p", [text("a")]), el("p", [text("b")])]), el("ul", [el("li", [text("c")])]));
  assert.equal(editorText(root), "a\nb\nc");
});

test("caret placeholders vanish and non-breaking spaces read as spaces", () => {
  const root = editor(el("p", [text("two\u00a0 spaces"), el("span", [text("\ufeff")]), text("\u200bend")]));
  assert.equal(editorText(root), "two  spacesend");
});

test("emoji drawn as images read as their alt text", () => {
  const root = editor(el("p", [text("great "), el("img", [], { alt: "🎉" }), text(" day")]));
  assert.equal(editorText(root), "great 🎉 day");
});

test("rangeOf maps offsets of the read text back to text nodes, past zero-width characters", () => {
  const first = text("door code");
  const second = text("\u200bis 4417 ok");
  const root = editor(el("p", [el("span", [first])]), el("p", [el("span", [second])]));
  root.ownerDocument = { createRange: () => ({ setStart(node, offset) { this.start = [node, offset]; }, setEnd(node, offset) { this.end = [node, offset]; } }) };
  const read = editorText(root);
  const at = read.indexOf("4417");
  const range = rangeOf(root, at, at + 4);
  assert.deepEqual(range.start, [second, 4]);
  assert.deepEqual(range.end, [second, 8]);
  assert.equal(second.data.slice(4, 8), "4417");
  assert.equal(rangeOf(root, read.indexOf("\n"), read.indexOf("\n") + 1), null); // a line break is no text node
});

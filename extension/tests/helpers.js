// Loads the content-script files the way the browser does (as plain scripts that fill in
// globalThis.draftguard) and builds the tiny DOM-like trees that editorText() reads.
"use strict";
const path = require("node:path");

function load(...files) {
  for (const file of files) require(path.join(__dirname, "..", "content", file));
  return globalThis.draftguard;
}

function text(data) {
  return { nodeType: 3, nodeName: "#text", data, childNodes: [] };
}

function el(name, children = [], attributes = {}) {
  const node = { nodeType: 1, nodeName: name.toUpperCase(), childNodes: children, getAttribute: (key) => attributes[key] ?? null };
  children.forEach((child, i) => { child.nextSibling = children[i + 1] ?? null; });
  return node;
}

module.exports = { load, text, el };

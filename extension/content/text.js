// Reads a composer's plain text the way the employee sees it, from the editor's DOM, without
// touching it. Quill (LinkedIn), Lexical (Facebook) and plain contenteditables all render one
// block element per line, so: each block is a line, an inner <br> is a line break, and the
// lone <br> that keeps an empty line open is nothing. The server's span offsets point into
// exactly the string returned here, so this is also what the card quotes from.
//
// Only nodeType, nodeName, data, childNodes and nextSibling are used, so unit tests can pass
// plain objects instead of a DOM.
(function (draftguard) {
  "use strict";

  const ELEMENT = 1;
  const TEXT = 3;
  const BLOCKS = new Set([
    "ADDRESS", "ARTICLE", "BLOCKQUOTE", "DIV", "DL", "DT", "DD", "FIGURE", "FOOTER", "FORM",
    "H1", "H2", "H3", "H4", "H5", "H6", "HEADER", "HR", "LI", "OL", "P", "PRE", "SECTION",
    "TABLE", "TR", "UL",
  ]);
  // Zero-width characters editors leave behind for caret bookkeeping (Quill's cursor blot,
  // Lexical's composition guard) are not part of what the employee wrote.
  const INVISIBLE = /[\u200b\ufeff]/g;

  function isBlock(node) {
    return node.nodeType === ELEMENT && BLOCKS.has(node.nodeName.toUpperCase());
  }

  // `onText(node, at)`, when given, hears of every text node read and the offset in the
  // returned string where its (cleaned) text starts: rangeOf() uses it to map offsets back.
  function editorText(root, onText) {
    let out = "";
    let breakBeforeNext = false; // a block just ended: whatever comes next starts a new line
    let lineHasInline = false; // text was written since the last line break

    function newline() {
      out += "\n";
      breakBeforeNext = false;
      lineHasInline = false;
    }

    function addText(text, node) {
      if (!text) return;
      if (breakBeforeNext) newline();
      if (onText && node) onText(node, out.length);
      out += text;
      lineHasInline = true;
    }

    function visit(node, parentIsBlock) {
      if (node.nodeType === TEXT) {
        addText(node.data.replace(INVISIBLE, "").replace(/\u00a0/g, " "), node);
        return;
      }
      if (node.nodeType !== ELEMENT) return;
      const name = node.nodeName.toUpperCase();
      if (name === "BR") {
        const placeholder = parentIsBlock && node.nextSibling == null;
        if (!placeholder) {
          if (breakBeforeNext) newline();
          newline();
        }
        return;
      }
      if (name === "IMG") {
        // Emoji are often images whose alt text is the character itself.
        const alt = node.getAttribute ? node.getAttribute("alt") : node.alt;
        if (alt) addText(alt.replace(INVISIBLE, "").replace(/\u00a0/g, " "), null);
        return;
      }
      const block = isBlock(node);
      if (block && (breakBeforeNext || lineHasInline)) newline();
      for (const child of node.childNodes) visit(child, block);
      if (block) breakBeforeNext = true;
    }

    for (const child of root.childNodes) visit(child, true);
    return out;
  }

  // The offset inside a text node's data of the `index`-th character editorText() kept from it.
  function dataOffset(data, index) {
    let kept = 0;
    for (let i = 0; i < data.length; i += 1) {
      if (kept === index) return i;
      if (!/[\u200b\ufeff]/.test(data[i])) kept += 1;
    }
    return kept === index ? data.length : -1;
  }

  // A DOM Range covering [start, end) of editorText(root), or null when an end falls outside
  // the editor's text nodes (inside an image's alt text, on a line break).
  function rangeOf(root, start, end) {
    const nodes = [];
    editorText(root, (node, at) => nodes.push({ node, at }));
    const point = (offset, isEnd) => {
      for (const { node, at } of nodes) {
        const length = node.data.replace(INVISIBLE, "").length;
        if (isEnd ? offset > at && offset <= at + length : offset >= at && offset < at + length) {
          return { node, offset: dataOffset(node.data, offset - at) };
        }
      }
      return null;
    };
    const from = point(start, false);
    const to = point(end, true);
    if (!from || !to || from.offset < 0 || to.offset < 0) return null;
    const range = root.ownerDocument.createRange();
    range.setStart(from.node, from.offset);
    range.setEnd(to.node, to.offset);
    return range;
  }

  draftguard.text = { editorText, rangeOf };
})(globalThis.draftguard ??= {});

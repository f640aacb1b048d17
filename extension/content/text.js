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

  function editorText(root) {
    let out = "";
    let breakBeforeNext = false; // a block just ended: whatever comes next starts a new line
    let lineHasInline = false; // text was written since the last line break

    function newline() {
      out += "\n";
      breakBeforeNext = false;
      lineHasInline = false;
    }

    function visit(node, parentIsBlock) {
      if (node.nodeType === TEXT) {
        const text = node.data.replace(INVISIBLE, "").replace(/\u00a0/g, " ");
        if (!text) return;
        if (breakBeforeNext) newline();
        out += text;
        lineHasInline = true;
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
        if (alt) visit({ nodeType: TEXT, data: alt }, false);
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

  draftguard.text = { editorText };
})(globalThis.draftguard ??= {});

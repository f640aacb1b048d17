// What every site adapter provides, and the generic code that uses it. An adapter is data: for
// each kind of composer (post, comment, message), CSS selectors for the editor, the part of the
// page that belongs to it, where the warning goes and which button publishes.
// `content/adapters/<platform>.js` calls draftguard.defineSite(); the manifest's content_scripts
// entry that injects it on the site's pages is the only other place a site appears, and the
// file name is the platform id sent to the server.
//
// Sites rename their markup often. Below an adapter's ranked, site-specific selectors sits a
// semantic fallback: any editable textbox of a known editor kind whose accessible name or
// placeholder reads as a post, comment, reply or message, inside one of the areas the adapter
// names for that surface. A renamed wrapper then degrades to the fallback, not to silence, and
// the composer's `rule` ("specific" or "fallback") says which one matched.
(function (draftguard) {
  "use strict";

  // Editable roots of the editors the sites use: Lexical, Quill, ProseMirror/Tiptap, or any
  // contenteditable that calls itself a textbox.
  const EDITABLE = [
    '[data-lexical-editor="true"][contenteditable="true"]',
    '.ql-editor[contenteditable="true"]',
    '.ProseMirror[contenteditable="true"]',
    '[contenteditable="true"][role="textbox"]',
  ].join(", ");

  // What a composer's name or placeholder says it is for, tried in this order: "Reply to a
  // message" is a message, "Comment on this post" a comment.
  const PURPOSES = [
    ["message", /\b(message|messages|chat)\b/i],
    ["comment", /\b(comments?|reply|replies|respond)\b/i],
    ["post", /\b(posts?|share|what's on your mind|what’s on your mind|talk about|write something|start writing)\b/i],
  ];

  const BUTTONS = 'button, [role="button"], input[type="submit"]';

  // The words a textbox is known by: its placeholders and its accessible name.
  function namesOf(editor) {
    const names = ["aria-placeholder", "data-placeholder", "placeholder", "aria-label", "title"]
      .map((attribute) => editor.getAttribute(attribute));
    for (const id of (editor.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean)) {
      const label = editor.ownerDocument.getElementById(id);
      if (label) names.push(label.textContent);
    }
    return names.filter(Boolean).join(" · ");
  }

  function purposeOf(editor) {
    const names = namesOf(editor);
    if (!names || /\bsearch\b/i.test(names)) return null; // "Search messages" is not a composer
    const match = PURPOSES.find(([, pattern]) => pattern.test(names));
    return match ? match[0] : null;
  }

  function labelOf(button) {
    return (button.getAttribute("aria-label") || button.value || button.textContent || "").trim();
  }

  class Site {
    // spec: {surfaces: [{name, editor, scope, anchor, submit, submitsOnEnter, enterMaySend}],
    //        fallback: {<surface name>: {area, scope, submitLabel, submitsOnEnter, enterMaySend}}}
    //   name            the API's surface: "post" | "comment" | "message"
    //   editor          selector for the editor's contenteditable root
    //   scope           closest ancestor holding the editor and its publish button
    //   anchor          closest ancestor (or the editor) after which the warning is inserted
    //   submit          selector, inside scope, for the button that publishes
    //   submitsOnEnter  Enter (without Shift) always publishes, as in Facebook comments
    //   enterMaySend    Enter publishes if the employee chose so (LinkedIn messaging); the
    //                   composer learns which from what Enter does
    // Surfaces are tried in order, so list the more specific ones first. A fallback entry lets
    // the semantic rule find that surface inside `area`, its publish button in `scope` by its
    // label (`submitLabel`, a regular expression).
    constructor({ surfaces, fallback = {} }) {
      // A specific surface whose button was renamed still finds it by the fallback's label.
      this.surfaces = surfaces.map((surface) => ({ submitLabel: fallback[surface.name]?.submitLabel, ...surface, rule: "specific" }));
      this.fallbacks = Object.entries(fallback).map(([name, spec]) => ({ anchor: ".ql-container", ...spec, name, rule: "fallback" }));
      this.specificSelector = surfaces.map((s) => s.editor).join(", ");
      this.editorSelector = this.fallbacks.length ? `${this.specificSelector}, ${EDITABLE}` : this.specificSelector;
    }

    // The surface an editor is, with the rule that recognised it, or null.
    surfaceOf(editor) {
      const specific = this.surfaces.find((surface) => editor.matches(surface.editor));
      if (specific) return specific;
      if (!this.fallbacks.length || !editor.matches(EDITABLE)) return null;
      const purpose = purposeOf(editor);
      return this.fallbacks.find((fallback) => fallback.name === purpose && editor.closest(fallback.area)) || null;
    }

    // The editor root a node belongs to, if it is one the site adapter may know. A text node
    // counts as its parent element: typing changes text nodes, and must not look like a change
    // elsewhere on the page (which would rescan the page while the employee types).
    editorOf(node) {
      const element = node instanceof Element ? node : node && node.parentElement;
      return element instanceof Element ? element.closest(this.editorSelector) : null;
    }

    editorsIn(root) {
      return root.querySelectorAll(this.editorSelector);
    }

    // Where the warning goes: right after this element, which is outside the editor.
    anchorOf(editor, surface) {
      return (surface.anchor && editor.closest(surface.anchor)) || editor;
    }

    submitButtonOf(editor, surface) {
      const scope = editor.closest(surface.scope);
      if (!scope) return null;
      const button = surface.submit && scope.querySelector(surface.submit);
      if (button || !surface.submitLabel) return button || null;
      return [...scope.querySelectorAll(BUTTONS)].find((candidate) => surface.submitLabel.test(labelOf(candidate))) || null;
    }

    readText(editor) {
      return draftguard.text.editorText(editor);
    }
  }

  draftguard.defineSite = (spec) => {
    draftguard.site = new Site(spec);
  };
  draftguard.composerPurpose = purposeOf; // for tests and diagnosis
})(globalThis.draftguard ??= {});

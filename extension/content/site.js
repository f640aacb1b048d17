// What every site adapter provides, and the generic code that uses it. An adapter is data: for
// each kind of composer (post, comment, message), CSS selectors for the editor, the part of the
// page that belongs to it, where the warning goes and which button publishes.
// `content/adapters/<platform>.js` calls draftguard.defineSite(); the manifest's content_scripts
// entry that injects it on the site's pages is the only other place a site appears, and the
// file name is the platform id sent to the server.
(function (draftguard) {
  "use strict";

  class Site {
    // spec: {surfaces: [{name, editor, scope, anchor, submit, submitsOnEnter}]}
    //   name            the API's surface: "post" | "comment" | "message"
    //   editor          selector for the editor's contenteditable root
    //   scope           closest ancestor holding the editor and its publish button
    //   anchor          closest ancestor (or the editor) after which the warning is inserted
    //   submit          selector, inside scope, for the button that publishes
    //   submitsOnEnter  Enter (without Shift) publishes, as in Facebook comments
    // Surfaces are tried in order, so list the more specific ones first.
    constructor({ surfaces }) {
      this.surfaces = surfaces;
      this.editorSelector = surfaces.map((s) => s.editor).join(", ");
    }

    surfaceOf(editor) {
      return this.surfaces.find((surface) => editor.matches(surface.editor)) || null;
    }

    // The editor root an element belongs to, if it is one the site adapter knows.
    editorOf(element) {
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
      return scope ? scope.querySelector(surface.submit) : null;
    }

    readText(editor) {
      return draftguard.text.editorText(editor);
    }
  }

  draftguard.defineSite = (spec) => {
    draftguard.site = new Site(spec);
  };
})(globalThis.draftguard ??= {});

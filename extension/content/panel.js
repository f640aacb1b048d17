// The warning UI for one composer: a small status indicator that opens a card, and the
// "Post anyway?" question. It is one element the extension owns, inserted next to the editor
// (never inside it), with its own shadow root. Its `data-draftguard-state` and
// `data-draftguard-categories` attributes are the stable, public view of what was decided.
(function (draftguard) {
  "use strict";

  const LABELS = {
    idle: "Draftguard is on",
    checking: "Checking…",
    clean: "No policy concerns",
    offline: "Draftguard is offline — you can post as normal",
    error: "Draftguard could not check this draft — you can post as normal",
  };

  // Creates an element: h("p", {className: "note"}, "text", child, ...).
  function h(tag, props = {}, ...children) {
    const element = Object.assign(document.createElement(tag), props);
    element.append(...children.filter((child) => child != null));
    return element;
  }

  function isWebLink(url) {
    try {
      return ["http:", "https:"].includes(new URL(url).protocol);
    } catch {
      return false;
    }
  }

  class Panel {
    // handlers: onDismiss(), onReport(includeText) -> Promise, onClose() (focus back to editor),
    //           onMask(span) -> whether the span was replaced in the editor
    constructor(surface, handlers) {
      this.handlers = handlers;
      this.host = document.createElement("draftguard-panel");
      this.host.setAttribute("data-draftguard-surface", surface);
      const root = this.host.attachShadow({ mode: "open" });

      this.dot = h("span", { className: "dot" });
      this.dot.setAttribute("aria-hidden", "true");
      this.label = h("span");
      this.indicator = h("button", { type: "button", className: "indicator", onclick: () => this.toggleCard() }, this.dot, this.label);
      this.indicator.setAttribute("aria-controls", "card");
      this.live = h("div", { className: "sr-only" });
      this.live.setAttribute("aria-live", "polite");
      this.card = h("section", { id: "card", className: "card", hidden: true });
      this.card.setAttribute("aria-label", "Draftguard warning");
      this.confirm = h("section", { className: "confirm", hidden: true });
      this.confirm.setAttribute("role", "alertdialog");
      this.confirm.setAttribute("aria-label", "Post anyway?");

      root.append(h("style", { textContent: draftguard.panelStyle }), this.indicator, this.live, this.card, this.confirm);
      root.addEventListener("keydown", (event) => {
        if (event.key === "Escape") this.escape(event);
      });
      this.show({ state: "idle" });
    }

    // view: {state, message?, categories?: [{id, title, guidance, policyRef, excerpts, masks}],
    //        dismissed?: boolean, isNew?: boolean (a warning the employee has not seen yet)}
    show(view) {
      this.view = view;
      const flagged = view.state === "flagged";
      this.host.setAttribute("data-draftguard-state", view.state);
      if (flagged) this.host.setAttribute("data-draftguard-categories", view.categories.map((c) => c.id).join(" "));
      else this.host.removeAttribute("data-draftguard-categories");

      this.label.textContent = flagged ? this.flaggedLabel(view) : LABELS[view.state];
      this.indicator.title = view.message || "";
      this.indicator.disabled = !flagged;
      if (flagged) this.renderCard(view.categories);
      this.setCardOpen(flagged && (view.isNew || (!view.dismissed && !this.card.hidden)));
      if (!flagged && this.answerQuestion) this.answerQuestion(false); // nothing left to ask about
      if (flagged && view.isNew) this.announce(`Draftguard: this draft may break the social media policy — ${this.titles()}. Review it below the composer.`);
    }

    flaggedLabel(view) {
      if (view.dismissed) return "Warning dismissed";
      const count = view.categories.length;
      return count === 1 ? `Possible policy issue: ${view.categories[0].title}` : `${count} possible policy issues`;
    }

    titles() {
      return this.view.categories.map((c) => c.title).join(", ");
    }

    renderCard(categories) {
      const items = categories.map((category) => h("li", {},
        h("h3", { textContent: category.title }),
        category.guidance ? h("p", { textContent: category.guidance }) : null,
        ...category.excerpts.map((excerpt) => h("blockquote", {},
          excerpt.clippedStart ? "…" : null,
          ...excerpt.parts.map((part) => (part.flagged ? h("mark", { textContent: part.text }) : part.text)),
          excerpt.clippedEnd ? "…" : null)),
        category.masks.length ? h("ul", { className: "masks" }, ...category.masks.map((span) => this.maskRow(span))) : null,
        isWebLink(category.policyRef)
          ? h("a", { href: category.policyRef, target: "_blank", rel: "noopener noreferrer", textContent: "Read the policy" })
          : null));

      const consent = h("input", { type: "checkbox" });
      const report = h("button", {
        type: "button",
        textContent: "This is fine — report a false alarm",
        onclick: async () => {
          report.disabled = true;
          const sent = await this.handlers.onReport(consent.checked);
          this.acknowledge(sent ? "Reported as a false alarm — thank you" : "Warning dismissed; the report could not be sent");
        },
      });
      this.card.replaceChildren(
        h("h2", { textContent: "This draft may break the social media policy" }),
        h("ul", {}, ...items),
        h("div", { className: "actions" },
          h("button", { type: "button", className: "primary", textContent: "Dismiss", onclick: () => this.handlers.onDismiss() }),
          report,
          h("label", {}, consent, "Include my draft text in the report")));
    }

    // One secret the employee can take out: what it is, what replaces it, and "Mask".
    maskRow(span) {
      const shown = span.text.length > 24 ? `${span.text.slice(0, 20)}…` : span.text;
      const button = h("button", { type: "button", className: "mask", textContent: "Mask" });
      button.setAttribute("aria-label", `Mask ${shown} as ${span.mask}`);
      const row = h("li", {}, h("span", {}, h("span", { className: "value", textContent: shown }), " → ", h("code", { textContent: span.mask })), button);
      button.onclick = () => {
        if (this.handlers.onMask(span)) {
          button.disabled = true;
          button.textContent = "Masked";
          this.announce(`Replaced with ${span.mask}. Ctrl+Z brings the text back.`);
        } else {
          this.acknowledge("The draft has changed; this could not be masked");
        }
      };
      return row;
    }

    // Says on the indicator, and to screen readers, what just happened.
    acknowledge(message) {
      this.label.textContent = message;
      this.announce(message);
    }

    setCardOpen(open) {
      this.card.hidden = !open;
      this.indicator.setAttribute("aria-expanded", String(open));
    }

    toggleCard() {
      this.setCardOpen(this.card.hidden);
    }

    announce(message) {
      // Replacing the text (not appending) makes screen readers read it once.
      this.live.textContent = "";
      requestAnimationFrame(() => { this.live.textContent = message; });
    }

    // Resolves true when the employee chooses to post anyway, false to keep editing.
    askToPost() {
      return new Promise((resolve) => {
        const answer = (post) => {
          this.confirm.hidden = true;
          this.answerQuestion = null;
          resolve(post);
          if (!post) this.handlers.onClose();
        };
        this.answerQuestion = answer;
        const keep = h("button", { type: "button", className: "primary", textContent: "Keep editing", onclick: () => answer(false) });
        this.confirm.replaceChildren(
          h("h2", { textContent: "Post anyway?" }),
          h("p", { textContent: `Draftguard thinks this draft may break the social media policy: ${this.titles()}.` }),
          h("div", { className: "actions" },
            keep,
            h("button", { type: "button", textContent: "Post anyway", onclick: () => answer(true) })));
        this.setCardOpen(true);
        this.confirm.hidden = false;
        keep.focus();
      });
    }

    escape(event) {
      event.stopPropagation(); // the site's dialog must not close on our Escape
      if (this.answerQuestion) this.answerQuestion(false);
      else if (!this.card.hidden) {
        this.setCardOpen(false);
        this.indicator.focus();
      }
    }

    remove() {
      this.host.remove();
    }
  }

  draftguard.Panel = Panel;
})(globalThis.draftguard ??= {});

// LinkedIn. The share box, comment and reply boxes are Quill editors (`.ql-editor`); messaging
// uses LinkedIn's own contenteditable (`.msg-form__contenteditable`). The share box that is
// rolling out on the newer React pages keys its editor `ShareBox_textEditor`, and newer comment
// boxes wrap a Tiptap editor in `ui-core-tiptap-text-editor-wrapper`; both are matched too.
// The editors' own placeholders ("What do you want to talk about?", "Add a comment…", "Write a
// message…") are what the fallback reads.
draftguard.defineSite({
  surfaces: [
    {
      name: "message",
      editor: '.msg-form__contenteditable[contenteditable="true"]',
      scope: "form.msg-form",
      anchor: ".msg-form__msg-content-container",
      submit: "button.msg-form__send-button",
      enterMaySend: true, // "Press Enter to Send" is the employee's choice
    },
    {
      name: "comment", // replies use the same comment box
      editor: '.comments-comment-box__form .ql-editor[contenteditable="true"], '
        + '[data-testid="ui-core-tiptap-text-editor-wrapper"] [contenteditable="true"][role="textbox"]',
      scope: 'form.comments-comment-box__form, [componentkey^="commentBox"]',
      anchor: '.comments-comment-texteditor, [data-testid="ui-core-tiptap-text-editor-wrapper"]',
      submit: 'button.comments-comment-box__submit-button--cr, button.comments-comment-box__submit-button, [componentkey*="commentButtonSection"] button',
    },
    {
      name: "post",
      editor: '.share-creation-state__text-editor .ql-editor[contenteditable="true"], '
        + '[componentkey="ShareBox_textEditor"][contenteditable="true"]',
      scope: '.share-box-v2__modal, [role="dialog"], dialog',
      anchor: ".ql-container",
      submit: "button.share-actions__primary-action",
    },
  ],
  // When LinkedIn renames its wrappers: a textbox named for a post, comment or message in the
  // feed, a dialog or the messaging overlay, published by the button with that label.
  fallback: {
    message: { area: 'aside, main, [role="main"], [role="dialog"], [role="complementary"]', scope: 'form, [role="dialog"], aside', submitLabel: /^send$/i, enterMaySend: true },
    comment: { area: 'main, [role="main"], [role="dialog"], dialog', scope: "form", submitLabel: /^(comment|reply|post)$/i },
    post: { area: '[role="dialog"], dialog, main, [role="main"]', scope: '[role="dialog"], dialog, form', submitLabel: /^post$/i },
  },
});

// LinkedIn. The share box, comment and reply boxes are Quill editors (`.ql-editor`); messaging
// uses LinkedIn's own contenteditable (`.msg-form__contenteditable`). The share box that is
// rolling out on the newer React pages keys its editor `ShareBox_textEditor`, and newer comment
// boxes wrap a Tiptap editor in `ui-core-tiptap-text-editor-wrapper`; both are matched too.
draftguard.defineSite({
  surfaces: [
    {
      name: "message",
      editor: '.msg-form__contenteditable[contenteditable="true"]',
      scope: "form.msg-form",
      anchor: ".msg-form__msg-content-container",
      submit: "button.msg-form__send-button",
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
});

// Facebook. Every composer is a Lexical editor (`data-lexical-editor`). Class names are
// generated and change with every build, so only roles, ARIA labels and Lexical's own marker
// are used. Comment and reply boxes sit in a `form[role="presentation"]` and publish on Enter;
// the post composer lives in the "Create post" dialog.
draftguard.defineSite({
  surfaces: [
    {
      name: "comment", // replies use the same composer
      editor: 'form[role="presentation"] [data-lexical-editor="true"][contenteditable="true"]',
      scope: 'form[role="presentation"]',
      anchor: 'form[role="presentation"] > *',
      submit: '#focused-state-composer-submit [role="button"], [role="button"][aria-label="Comment"], [role="button"][aria-label="Reply"]',
      submitsOnEnter: true,
    },
    {
      name: "post",
      editor: '[role="dialog"] [data-lexical-editor="true"][contenteditable="true"]',
      scope: '[role="dialog"]',
      submit: '[role="button"][aria-label="Post"]',
    },
  ],
  // When the wrappers change (a comment form without role="presentation", a new submit
  // container): a Lexical textbox labelled "Write a comment…", "Reply to …" or "What's on your
  // mind?" in the feed, an article or a dialog, published by its labelled button.
  fallback: {
    comment: { area: '[role="feed"], [role="article"], [role="dialog"], [role="main"], [role="complementary"]', scope: 'form, [role="article"]', submitLabel: /^(comment|reply|post)$/i, submitsOnEnter: true },
    post: { area: '[role="dialog"]', scope: '[role="dialog"]', submitLabel: /^post$/i },
  },
});

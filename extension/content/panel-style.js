// The warning UI's stylesheet. It lives in the panel's shadow root, so the site's CSS cannot
// reach in and none of this leaks out.
(function (draftguard) {
  "use strict";

  draftguard.panelStyle = `
:host { all: initial; display: block; margin: 4px 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2226; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
button { font: inherit; cursor: pointer; border-radius: 14px; border: 1px solid #8c8c8c; background: #fff; color: #1d2226; padding: 3px 12px; }
button:focus-visible, a:focus-visible, input:focus-visible { outline: 2px solid #0a66c2; outline-offset: 2px; }
.indicator { display: inline-flex; align-items: center; gap: 6px; border: none; background: transparent; padding: 2px 6px; color: #56687a; font-size: 12px; }
.indicator:disabled { cursor: default; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: #b0b7bf; flex: none; }
:host([data-draftguard-state="checking"]) .dot { background: #7a9cc6; animation: pulse 1s ease-in-out infinite alternate; }
:host([data-draftguard-state="clean"]) .dot { background: #3b8a3e; }
:host([data-draftguard-state="flagged"]) .indicator { color: #7a4a00; font-weight: 600; }
:host([data-draftguard-state="flagged"]) .dot { background: #c37d00; }
:host([data-draftguard-state="offline"]) .dot, :host([data-draftguard-state="error"]) .dot { background: transparent; border: 1.5px dashed #8c8c8c; }
@keyframes pulse { from { opacity: .35; } to { opacity: 1; } }
@media (prefers-reduced-motion: reduce) { :host([data-draftguard-state="checking"]) .dot { animation: none; } }
.card, .confirm { margin-top: 4px; padding: 12px 14px; border: 1px solid #e0c48a; border-left: 4px solid #c37d00; border-radius: 8px; background: #fffaf0; }
h2 { font-size: 14px; margin: 0 0 8px; }
ul { list-style: none; margin: 0; padding: 0; }
li + li { margin-top: 10px; padding-top: 10px; border-top: 1px solid #f0e2c4; }
h3 { font-size: 13px; margin: 0 0 2px; }
p { margin: 0 0 6px; }
blockquote { margin: 4px 0 6px; padding: 4px 8px; border-left: 3px solid #d8c49a; background: #fff; color: #38434f; white-space: pre-wrap; overflow-wrap: anywhere; }
mark { background: #ffe08a; color: inherit; border-radius: 2px; padding: 0 1px; }
a { color: #0a66c2; }
.masks { margin: 2px 0 6px; }
.masks li, .masks li + li { display: flex; align-items: center; gap: 8px; margin: 2px 0; padding: 0; border: none; }
.masks .value { font-weight: 600; overflow-wrap: anywhere; }
.masks code { font: 12px/1.4 ui-monospace, monospace; color: #38434f; }
button.mask { padding: 1px 10px; font-size: 12px; }
.actions { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-top: 12px; }
.actions label { display: flex; align-items: center; gap: 4px; font-size: 12px; color: #38434f; }
.primary { background: #0a66c2; border-color: #0a66c2; color: #fff; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;
})(globalThis.draftguard ??= {});

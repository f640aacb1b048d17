// Turns the server's spans into something the card can show: the server counts Unicode code
// points (Python string indices), JavaScript counts UTF-16 code units, so an emoji before a
// flagged word shifts every offset by one. Spans are converted, checked against the text they
// claim to cover, merged, and cut into short quoted excerpts with the flagged words marked;
// the secrets the server says can be masked are picked out with their placeholders.
(function (draftguard) {
  "use strict";

  const ASTRAL = /[\ud800-\udbff]/;

  // Returns a function mapping a code point offset to a UTF-16 offset in `text`.
  function codePointIndexer(text) {
    if (!ASTRAL.test(text)) return (offset) => offset;
    const utf16At = [0];
    for (const char of text) utf16At.push(utf16At[utf16At.length - 1] + char.length);
    return (offset) => utf16At[Math.min(Math.max(offset, 0), utf16At.length - 1)];
  }

  // [{start, end, text}] in code points -> [{start, end}] in UTF-16, sorted and merged.
  // A span whose text does not match what it points at is dropped: better no highlight
  // than the wrong words highlighted.
  function toUtf16Ranges(text, spans) {
    const at = codePointIndexer(text);
    const ranges = [];
    for (const span of spans || []) {
      const start = at(span.start);
      const end = at(span.end);
      if (end <= start) continue;
      if (typeof span.text === "string" && text.slice(start, end) !== span.text) continue;
      ranges.push({ start, end });
    }
    ranges.sort((a, b) => a.start - b.start || a.end - b.end);
    const merged = [];
    for (const range of ranges) {
      const last = merged[merged.length - 1];
      if (last && range.start <= last.end) last.end = Math.max(last.end, range.end);
      else merged.push({ ...range });
    }
    return merged;
  }

  // Moves `index` outwards (direction -1 or +1) to a word boundary, at most `slack` code
  // units, and never into the middle of a surrogate pair.
  function widenToWord(text, index, direction, slack) {
    let i = index;
    const limit = direction < 0 ? Math.max(0, index - slack) : Math.min(text.length, index + slack);
    const atBoundary = (k) => (direction < 0 ? k === 0 || /\s/.test(text[k - 1]) : k === text.length || /\s/.test(text[k]));
    while (i !== limit && !atBoundary(i)) i += direction;
    if (!atBoundary(i)) i = index;
    if (i > 0 && i < text.length && /[\udc00-\udfff]/.test(text[i])) i += direction;
    return i;
  }

  // Short quotes around the flagged words: [{parts: [{text, flagged}], clippedStart, clippedEnd}].
  // Ranges closer than two contexts share one excerpt; at most `limit` excerpts are returned.
  function excerpts(text, ranges, { context = 30, limit = 3 } = {}) {
    const groups = [];
    for (const range of ranges) {
      const last = groups[groups.length - 1];
      if (last && range.start - last.end <= context * 2) {
        last.ranges.push(range);
        last.end = range.end;
      } else {
        groups.push({ start: range.start, end: range.end, ranges: [range] });
      }
    }
    return groups.slice(0, limit).map((group) => {
      const from = widenToWord(text, Math.max(0, group.start - context), -1, 12);
      const to = widenToWord(text, Math.min(text.length, group.end + context), +1, 12);
      const parts = [];
      let cursor = from;
      for (const range of group.ranges) {
        if (range.start > cursor) parts.push({ text: text.slice(cursor, range.start), flagged: false });
        parts.push({ text: text.slice(range.start, range.end), flagged: true });
        cursor = range.end;
      }
      if (to > cursor) parts.push({ text: text.slice(cursor, to), flagged: false });
      return { parts, clippedStart: from > 0, clippedEnd: to < text.length };
    });
  }

  // The spans the employee may mask, those the server gave a placeholder (`mask`): in UTF-16,
  // checked against the text, one per range, in reading order: [{start, end, text, mask}].
  function maskable(text, spans) {
    const at = codePointIndexer(text);
    const found = new Map();
    for (const span of spans || []) {
      if (typeof span.mask !== "string" || !span.mask) continue;
      const start = at(span.start);
      const end = at(span.end);
      if (end <= start || text.slice(start, end) !== span.text) continue;
      found.set(`${start}:${end}`, { start, end, text: span.text, mask: span.mask });
    }
    return [...found.values()].sort((a, b) => a.start - b.start);
  }

  draftguard.spans = { toUtf16Ranges, excerpts, maskable };
})(globalThis.draftguard ??= {});

// The toolbar popup: is the server reachable, which model answers, is this site watched, and
// how many composers on this page the extension recognised.

const server = document.getElementById("server");
const siteRow = document.getElementById("site-row");
const toggle = document.getElementById("site-toggle");
const siteNote = document.getElementById("site-note");

function describeServer(status, serverUrl) {
  if (status.ok) return `Connected to ${serverUrl}. Model ${status.modelVersion}.`;
  return status.offline ? `Offline: ${status.message} You can post as normal.` : `Server problem: ${status.message}`;
}

const composersNote = document.getElementById("composers");
const SURFACE_NAMES = { post: ["post", "posts"], comment: ["comment box", "comment boxes"], message: ["message box", "message boxes"] };

// What the page's content script is watching, in words: "Watching 2 composers: 1 post,
// 1 comment box (1 found by the fallback rule)."
function describeComposers(answer) {
  if (!answer || !answer.watching) return "No composer recognised on this page.";
  const bySurface = new Map();
  let fallback = 0;
  for (const { surface, rule, count } of answer.composers) {
    bySurface.set(surface, (bySurface.get(surface) || 0) + count);
    if (rule === "fallback") fallback += count;
  }
  const parts = [...bySurface].map(([surface, count]) => {
    const [one, many] = SURFACE_NAMES[surface] || [surface, surface];
    return `${count} ${count === 1 ? one : many}`;
  });
  const n = answer.watching;
  const how = fallback ? ` (${fallback} found by the fallback rule: the site's markup may have changed)` : "";
  return `Watching ${n} ${n === 1 ? "composer" : "composers"}: ${parts.join(", ")}${how}.`;
}

// The page's content script, if there is one: {running, watching, composers, url}.
async function askPage(tab) {
  try {
    return (await chrome.tabs.sendMessage(tab.id, { type: "composers" })) || null;
  } catch {
    return null; // no content script on this page (not a supported site, or loaded before the extension)
  }
}

function showComposers(answer) {
  composersNote.hidden = false;
  composersNote.textContent = describeComposers(answer);
  composersNote.dataset.watching = String((answer && answer.watching) || 0);
}

// The tab the popup is about: the active one, or ?tab=<id> (how the tests open it in a tab).
async function currentTab() {
  const id = Number(new URLSearchParams(location.search).get("tab"));
  if (id) return chrome.tabs.get(id);
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab;
}

async function render() {
  const tab = await currentTab();
  const page = tab ? await askPage(tab) : null;
  // The tab's address comes with activeTab when the toolbar button opens the popup; the
  // content script's own answer covers the other ways in.
  const url = (tab && tab.url) || (page && page.url);
  const status = await chrome.runtime.sendMessage({ type: "popup-status", url });
  server.textContent = describeServer(status.server, status.serverUrl);
  server.dataset.state = status.server.ok ? "connected" : "offline";
  if (!status.site) {
    siteNote.textContent = "Draftguard only checks drafts on LinkedIn and Facebook.";
    return;
  }
  siteRow.hidden = false;
  if (status.enabled) showComposers(page);
  toggle.checked = status.enabled;
  toggle.disabled = status.siteLocked;
  toggle.onchange = async () => {
    await chrome.runtime.sendMessage({ type: "set-site-enabled", site: status.site.id, enabled: toggle.checked });
    siteNote.textContent = toggle.checked ? "On: drafts here are checked." : "Off: nothing typed here is sent.";
  };
  document.getElementById("site-label").textContent = `Check drafts on ${status.site.hosts[0]}`;
  siteNote.textContent = status.siteLocked ? "Set by your organization." : "";
}

document.getElementById("open-options").addEventListener("click", () => chrome.runtime.openOptionsPage());
render();

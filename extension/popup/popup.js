// The toolbar popup: is the server reachable, which model answers, and is this site watched.

const server = document.getElementById("server");
const siteRow = document.getElementById("site-row");
const toggle = document.getElementById("site-toggle");
const siteNote = document.getElementById("site-note");

function describeServer(status, serverUrl) {
  if (status.ok) return `Connected to ${serverUrl}. Model ${status.modelVersion}.`;
  return status.offline ? `Offline: ${status.message} You can post as normal.` : `Server problem: ${status.message}`;
}

async function render() {
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  const status = await chrome.runtime.sendMessage({ type: "popup-status", url: tab && tab.url });
  server.textContent = describeServer(status.server, status.serverUrl);
  server.dataset.state = status.server.ok ? "connected" : "offline";
  if (!status.site) {
    siteNote.textContent = "Draftguard only checks drafts on LinkedIn and Facebook.";
    return;
  }
  siteRow.hidden = false;
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

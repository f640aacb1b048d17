// The background service worker (an event page in Firefox): the one place that talks to the
// Draftguard server, so the sites' CSP and CORS rules never apply. Content scripts, the popup
// and the options page send it messages; each message type has one handler below.

import { callServer } from "./server.js";
import { knownSites, loadSettings, saveSettings, siteOf } from "./settings.js";

const checksInFlight = new Map(); // check id -> AbortController

// Pages of the extension itself (popup, options) may read and change settings; content
// scripts may not.
function fromExtensionPage(sender) {
  return typeof sender.url === "string" && sender.url.startsWith(chrome.runtime.getURL(""));
}

// The platform of the page a content script runs in, when that site is enabled.
async function enabledPlatform(sender) {
  const site = siteOf(sender.url);
  const { values } = await loadSettings();
  return site && values.enabledSites.includes(site.id) ? { platform: site.id, settings: values } : null;
}

async function serverStatus(settings) {
  const health = await callServer(settings, "healthz");
  if (!health.ok) return { ok: false, offline: Boolean(health.offline), message: health.message };
  const policy = await callServer(settings, "v1/policy"); // also proves the API token works
  if (!policy.ok) return { ok: false, message: policy.message, modelVersion: health.data.model_version };
  return {
    ok: true,
    status: health.data.status,
    modelVersion: health.data.model_version,
    policy: { name: policy.data.name, version: policy.data.version, categories: policy.data.categories.length },
  };
}

const contentHandlers = {
  async "site-enabled"(message, sender) {
    return { enabled: Boolean(await enabledPlatform(sender)) };
  },

  // -> {state: "clean" | "flagged", model_version, categories} | {state: "offline" | "error", message}
  async check({ id, text, surface }, sender) {
    const enabled = await enabledPlatform(sender);
    if (!enabled) return { state: "idle" };
    const controller = new AbortController();
    checksInFlight.set(id, controller);
    try {
      const reply = await callServer(enabled.settings, "v1/check", {
        method: "POST",
        body: { text, platform: enabled.platform, surface },
        signal: controller.signal,
      });
      if (!reply.ok) return { state: reply.offline ? "offline" : "error", message: reply.message };
      const { flagged, model_version, categories } = reply.data;
      if (!Array.isArray(categories)) return { state: "error", message: "The Draftguard server's answer was not understood." };
      return { state: flagged ? "flagged" : "clean", model_version, categories };
    } catch {
      return { state: "aborted" }; // the content script has already moved on
    } finally {
      checksInFlight.delete(id);
    }
  },

  cancel({ id }) {
    const controller = checksInFlight.get(id);
    if (controller) controller.abort();
    return { ok: true };
  },

  // Which composers a page recognised, by surface and rule: counts only, never text.
  async diagnostics({ composers }, sender) {
    const enabled = await enabledPlatform(sender);
    if (!enabled || !Array.isArray(composers)) return { ok: false };
    const counts = composers.map(({ surface, rule, count }) => ({ surface, rule, count }));
    const reply = await callServer(enabled.settings, "v1/diagnostics", { method: "POST", body: { platform: enabled.platform, composers: counts } });
    return { ok: reply.ok };
  },

  async feedback({ report }, sender) {
    const enabled = await enabledPlatform(sender);
    if (!enabled) return { ok: false };
    const reply = await callServer(enabled.settings, "v1/feedback", { method: "POST", body: { ...report, platform: enabled.platform } });
    return { ok: reply.ok, message: reply.message };
  },
};

const pageHandlers = {
  async "get-settings"() {
    return { ...(await loadSettings()), sites: knownSites() };
  },

  async "save-settings"({ values }) {
    await saveSettings(values);
    return { ok: true };
  },

  // Tests the values typed in the options page before they are saved.
  async "test-connection"({ values }) {
    const { values: current } = await loadSettings();
    return serverStatus({ ...current, ...values });
  },

  // What the popup shows for the tab it was opened on.
  async "popup-status"({ url }) {
    const { values, locked } = await loadSettings();
    const site = siteOf(url);
    return {
      site,
      enabled: Boolean(site && values.enabledSites.includes(site.id)),
      siteLocked: locked.includes("enabledSites"),
      serverUrl: values.serverUrl,
      server: await serverStatus(values),
    };
  },

  async "set-site-enabled"({ site, enabled }) {
    const { values } = await loadSettings();
    const others = values.enabledSites.filter((id) => id !== site);
    await saveSettings({ enabledSites: enabled ? [...others, site] : others });
    return { ok: true };
  },
};

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  const handlers = fromExtensionPage(sender) ? pageHandlers : contentHandlers;
  const handler = message && Object.hasOwn(handlers, message.type) ? handlers[message.type] : null;
  if (!handler) return false;
  Promise.resolve(handler(message, sender)).then(sendResponse, (error) => {
    sendResponse({ ok: false, state: "error", message: error instanceof Error ? error.message : String(error) });
  });
  return true; // the answer is sent asynchronously
});

// Settings: what the employee or IT saved in chrome.storage.local, overridden key by key by
// enterprise policy (chrome.storage.managed, see managed_schema.json). A managed key is locked:
// the options page and popup show it and cannot change it.

const KEYS = ["serverUrl", "apiToken", "enabledSites"];
const DEFAULT_SERVER_URL = "http://127.0.0.1:8000"; // what `make run` serves

const ADAPTER = /^content\/adapters\/([a-z0-9-]+)\.js$/;
const PATTERN_HOST = /^[a-z*]+:\/\/([^/]+)\//;

// The supported sites are the site adapters the manifest injects: an entry that runs
// content/adapters/<platform>.js on its match patterns.
export function knownSites() {
  return chrome.runtime.getManifest().content_scripts.flatMap((entry) => {
    const adapter = entry.js.map((file) => ADAPTER.exec(file)).find(Boolean);
    if (!adapter) return [];
    return [{ id: adapter[1], hosts: entry.matches.map((pattern) => PATTERN_HOST.exec(pattern)[1]) }];
  });
}

// The site a page belongs to, or null.
export function siteOf(url) {
  let host;
  try {
    host = new URL(url).host;
  } catch {
    return null;
  }
  return knownSites().find((site) => site.hosts.includes(host)) || null;
}

async function readManaged() {
  try {
    return await chrome.storage.managed.get(KEYS);
  } catch {
    return {}; // Firefox throws when no policy is installed
  }
}

// -> {values: {serverUrl, apiToken, enabledSites}, locked: [keys set by policy]}
export async function loadSettings() {
  const [stored, managed] = await Promise.all([chrome.storage.local.get(KEYS), readManaged()]);
  const defaults = { serverUrl: DEFAULT_SERVER_URL, apiToken: "", enabledSites: knownSites().map((site) => site.id) };
  const values = {};
  for (const key of KEYS) values[key] = managed[key] ?? stored[key] ?? defaults[key];
  values.serverUrl = normalizeServerUrl(values.serverUrl);
  return { values, locked: KEYS.filter((key) => managed[key] !== undefined) };
}

function normalizeServerUrl(value) {
  const url = new URL(String(value).trim());
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("The server URL must start with http:// or https://");
  return url.href.replace(/\/+$/, "");
}

// Saves the keys that policy does not lock; throws with a readable message on a bad value.
export async function saveSettings(changes) {
  const { locked } = await loadSettings();
  const update = {};
  for (const key of KEYS) {
    if (!(key in changes) || locked.includes(key)) continue;
    update[key] = changes[key];
  }
  if ("serverUrl" in update) update.serverUrl = normalizeServerUrl(update.serverUrl);
  if ("apiToken" in update) update.apiToken = String(update.apiToken).trim();
  if ("enabledSites" in update) {
    const known = knownSites().map((site) => site.id);
    update.enabledSites = known.filter((id) => update.enabledSites.includes(id));
  }
  await chrome.storage.local.set(update);
}

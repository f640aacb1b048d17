// The options page: shows the effective settings (policy-locked ones disabled), saves the rest
// and tests a connection with what is typed, through the service worker.

const form = document.getElementById("settings");
const status = document.getElementById("status");
let locked = [];

function send(message) {
  return chrome.runtime.sendMessage(message);
}

function say(text, detail = {}) {
  status.textContent = text;
  status.dataset.ok = String(Boolean(detail.ok));
  if (detail.modelVersion) status.dataset.modelVersion = detail.modelVersion;
  else delete status.dataset.modelVersion;
}

function formValues() {
  const values = {
    serverUrl: form.serverUrl.value,
    apiToken: form.apiToken.value,
    enabledSites: [...form.querySelectorAll('input[name="site"]:checked')].map((box) => box.value),
  };
  for (const key of locked) delete values[key];
  return values;
}

function renderSites(sites, enabled) {
  document.getElementById("sites").replaceChildren(...sites.map((site) => {
    const box = Object.assign(document.createElement("input"), { type: "checkbox", name: "site", value: site.id, checked: enabled.includes(site.id) });
    const label = document.createElement("label");
    label.append(box, ` ${site.id} (${site.hosts.join(", ")})`);
    return label;
  }));
}

async function load() {
  const settings = await send({ type: "get-settings" });
  locked = settings.locked;
  form.serverUrl.value = settings.values.serverUrl;
  form.apiToken.value = settings.values.apiToken;
  renderSites(settings.sites, settings.values.enabledSites);
  for (const field of form.querySelectorAll(".field")) {
    const isLocked = locked.includes(field.dataset.key);
    field.querySelectorAll("input").forEach((input) => { input.disabled = isLocked; });
    field.querySelector(".locked").hidden = !isLocked;
    field.classList.toggle("is-locked", isLocked);
  }
  document.getElementById("managed-note").hidden = locked.length === 0;
}

// Site access to the server lets the service worker reach it whatever its CORS settings.
// Firefox only grants it from inside the click, so this runs before anything is awaited.
function requestServerAccess(values) {
  try {
    return chrome.permissions.request({ origins: [`${new URL(values.serverUrl).origin}/*`] }).catch(() => false);
  } catch {
    return Promise.resolve(false); // not a URL: saving reports that
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = formValues();
  const access = "serverUrl" in values ? requestServerAccess(values) : Promise.resolve(true);
  const reply = await send({ type: "save-settings", values });
  if (!reply.ok) return say(`Not saved: ${reply.message}`);
  await load();
  say((await access) ? "Saved." : "Saved. Without site access to the server, Draftguard relies on the server allowing the extension (CORS).", { ok: true });
});

document.getElementById("test").addEventListener("click", async () => {
  say("Testing…");
  const result = await send({ type: "test-connection", values: formValues() });
  if (!result.ok) return say(`Not connected: ${result.message}`);
  const policy = result.policy;
  say(`Connected. Model ${result.modelVersion}; policy “${policy.name}” version ${policy.version}, ${policy.categories} categories.`, result);
});

load();

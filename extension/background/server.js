// The only code that talks to the Draftguard server. Every call ends in a plain result, never
// an exception: {ok: true, data} or {ok: false, offline, status, message}. Only a caller's own
// abort (the draft changed) rejects.

const TIMEOUT_MS = 5000;

// path is relative ("v1/check"), so a server URL with a path prefix keeps it.
export async function callServer(settings, path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (settings.apiToken) headers.Authorization = `Bearer ${settings.apiToken}`;
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  let response;
  let data;
  try {
    response = await fetch(new URL(path, `${settings.serverUrl}/`), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      credentials: "omit",
      cache: "no-store",
    });
    data = await response.json().catch(() => null);
  } catch (error) {
    if (signal && signal.aborted) throw error;
    const why = timeout.aborted ? "did not answer in time" : "cannot be reached";
    return { ok: false, offline: true, message: `The Draftguard server at ${settings.serverUrl} ${why}.` };
  }
  if (!response.ok) {
    const detail = data && data.error && data.error.message;
    return { ok: false, status: response.status, message: detail || `The Draftguard server answered ${response.status}.` };
  }
  return { ok: true, data };
}

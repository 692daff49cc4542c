/** The API on our own origin: every call, its timeout, and errors a page can show as they are. */
const BASE = "/api";
const TIMEOUT_MS = 20_000;

export const UNABLE_TO_CONNECT = "Unable to connect to the server. Check your connection and try again.";
const TIMED_OUT = "Unable to connect: the server did not answer in time. Try again in a moment.";
const UNREADABLE = "The server sent an answer Conduit cannot read. Try again in a moment.";

export class ApiError extends Error {
  /** kind: "http" (the API answered an error), "network", "timeout" or "unreadable" (not our JSON). */
  constructor(status, errors, kind = "http") {
    super(kind === "http" ? `the API answered ${status}` : kind);
    this.status = status;
    this.errors = errors && typeof errors === "object" ? errors : null;
    this.kind = kind;
  }

  get unreachable() {
    return this.kind !== "http" || this.status >= 500;
  }

  messages() {
    if (this.kind === "network") return [UNABLE_TO_CONNECT];
    if (this.kind === "timeout") return [TIMED_OUT];
    if (this.kind === "unreadable") return [UNREADABLE];
    const listed = Object.entries(this.errors ?? {}).flatMap(([field, problems]) =>
      (Array.isArray(problems) ? problems : [problems]).map((problem) =>
        field === "message" ? String(problem) : `${field} ${problem}`,
      ),
    );
    if (listed.length) return listed;
    return [this.status >= 500 ? `The server had a problem (${this.status}). Try again in a moment.` : `The server refused the request (${this.status}).`];
  }
}

let token = null;

export function useToken(value) {
  token = value;
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Token ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  let text;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-cache", // revalidate (ETag): after a write the pages show it at once
      signal: controller.signal,
    });
    text = await response.text();
  } catch {
    throw new ApiError(0, null, controller.signal.aborted ? "timeout" : "network");
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      if (response.ok) throw new ApiError(response.status, null, "unreadable");
    }
  }
  if (!response.ok) throw new ApiError(response.status, data?.errors);
  return data;
}

/** data[key] when it is an object (or array); otherwise the answer is not what the API promises. */
export function pick(data, key) {
  const value = data?.[key];
  if (value === null || typeof value !== "object") throw new ApiError(200, null, "unreadable");
  return value;
}

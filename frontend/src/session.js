/**
 * Who is signed in. The token lives in localStorage ("jwtToken"); at start-up GET /api/user says whose it is:
 * - 2xx: "authenticated";
 * - 4xx: the token is no good (expired, revoked, unknown user): it is dropped, "unauthenticated";
 * - 5xx, no answer, or an answer we cannot read: "unavailable". The token is kept, the pages that need no
 *   account still work, and we ask again (backing off, or at once on "Retry now" or when the browser
 *   comes back online) until the server answers.
 */
import { ApiError, api, pick, useToken } from "./api.js";

const TOKEN_KEY = "jwtToken";
const RETRY_DELAYS_MS = [2_000, 5_000, 10_000, 30_000];
const listeners = new Set();
let state = "loading";
let user = null;
let retryTimer = null;
let attempts = 0;

function update(nextState, nextUser) {
  const previous = state;
  state = nextState;
  user = nextUser;
  for (const listener of listeners) listener(previous);
}

export const currentUser = () => user;
export const authState = () => state;
/** listener(previousState) after every change. */
export const onSessionChange = (listener) => listeners.add(listener);

function scheduleRetry() {
  clearTimeout(retryTimer);
  const delay = RETRY_DELAYS_MS[Math.min(attempts, RETRY_DELAYS_MS.length - 1)];
  attempts += 1;
  retryTimer = setTimeout(restoreSession, delay);
}

export async function restoreSession() {
  clearTimeout(retryTimer);
  const token = localStorage.getItem(TOKEN_KEY);
  useToken(token);
  if (!token) return update("unauthenticated", null);
  try {
    const restored = pick(await api("GET", "/user"), "user");
    if (typeof restored.username !== "string") throw new ApiError(200, null, "unreadable");
    attempts = 0;
    update("authenticated", { ...restored, token });
  } catch (error) {
    if (localStorage.getItem(TOKEN_KEY) !== token) return; // signed in or out meanwhile
    if (error instanceof ApiError && error.kind === "http" && error.status >= 400 && error.status < 500) {
      signOut();
    } else {
      update("unavailable", null);
      scheduleRetry();
    }
  }
}

export function retryNow() {
  if (state === "unavailable") restoreSession();
}

window.addEventListener("online", retryNow);

export function signIn(signedIn) {
  clearTimeout(retryTimer);
  localStorage.setItem(TOKEN_KEY, signedIn.token);
  useToken(signedIn.token);
  update("authenticated", signedIn);
}

export function signOut() {
  clearTimeout(retryTimer);
  localStorage.removeItem(TOKEN_KEY);
  useToken(null);
  update("unauthenticated", null);
}

/** A write answered 401: the token stopped working mid-session. Sign out here; the page says why. */
export function sessionEnded(error) {
  if (error instanceof ApiError && error.kind === "http" && error.status === 401 && state === "authenticated") {
    signOut();
    return true;
  }
  return false;
}

window.__conduit_debug__ = Object.freeze({
  getToken: () => localStorage.getItem(TOKEN_KEY),
  getAuthState: () => state,
  getCurrentUser: () => (user ? { ...user } : null),
});

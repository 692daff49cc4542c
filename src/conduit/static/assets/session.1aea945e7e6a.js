import { api, useToken } from "./api.6510cf57ae82.js";

const TOKEN_KEY = "jwtToken";
const listeners = new Set();
let state = "loading";
let user = null;

function update(nextState, nextUser) {
  state = nextState;
  user = nextUser;
  for (const listener of listeners) listener();
}

export const currentUser = () => user;
export const authState = () => state;
export const onSessionChange = (listener) => listeners.add(listener);

export async function restoreSession() {
  const token = localStorage.getItem(TOKEN_KEY);
  useToken(token);
  if (!token) return update("unauthenticated", null);
  try {
    const { user: restored } = await api("GET", "/user");
    update("authenticated", restored);
  } catch (error) {
    if (error.status === 401) {
      signOut();
    } else {
      update("unavailable", null);
    }
  }
}

export function signIn(signedIn) {
  localStorage.setItem(TOKEN_KEY, signedIn.token);
  useToken(signedIn.token);
  update("authenticated", signedIn);
}

export function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  useToken(null);
  update("unauthenticated", null);
}

window.__conduit_debug__ = Object.freeze({
  getToken: () => localStorage.getItem(TOKEN_KEY),
  getAuthState: () => state,
  getCurrentUser: () => (user ? { ...user } : null),
});

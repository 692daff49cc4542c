/** The designed states every page shares: loading, error and empty panels, and error lists. */
import { ApiError } from "./api.js";
import { h, icon } from "./dom.js";
import { sessionEnded } from "./session.js";

export function messagesOf(error) {
  return error instanceof ApiError ? error.messages() : ["Something went wrong on this page. Reload it to try again."];
}

/** Where a form or a section shows its errors: the list exists only while there is something to say. */
export function errorArea() {
  return h("div", { class: "error-area", "aria-live": "polite" });
}

export function showErrors(area, error) {
  area.replaceChildren(
    ...(error ? [h("ul", { class: "error-messages", role: "alert" }, messagesOf(error).map((message) => h("li", {}, message)))] : []),
  );
}

export function loadingState(text, { compact = false } = {}) {
  return h(
    "div",
    { class: `state state-loading${compact ? " compact" : ""}`, role: "status" },
    h("span", { class: "spinner", "aria-hidden": "true" }),
    h("span", {}, text),
  );
}

/** A failed load: what failed, why (the API's words), and a way out. */
export function errorState({ title, error = null, detail = null, retry = null, home = false, compact = false }) {
  const actions = [];
  if (retry) {
    const button = h("button", { type: "button", class: "btn btn-sm btn-outline-primary" }, icon("refresh"), " Try again");
    button.addEventListener("click", retry);
    actions.push(button);
  }
  if (home) actions.push(h("a", { class: "btn btn-sm btn-outline-secondary", href: "/" }, "Back to the home page"));
  return h(
    "div",
    { class: `state state-error${compact ? " compact" : ""}`, role: "alert" },
    h("p", { class: "state-title" }, title),
    detail && h("p", {}, detail),
    error && h("ul", { class: "error-messages" }, messagesOf(error).map((message) => h("li", {}, message))),
    actions.length > 0 && h("div", { class: "state-actions" }, actions),
  );
}

export function emptyState(className, title, ...detail) {
  return h("div", { class: `state state-empty ${className}` }, h("p", { class: "state-title" }, title), detail.length > 0 && h("p", {}, detail));
}

export const isNotFound = (error) => error instanceof ApiError && error.kind === "http" && error.status === 404;

/** A write failed: say why. A 401 means the session stopped working: sign out, and say how to go on. */
export function reportFailure(area, error) {
  if (!sessionEnded(error)) return showErrors(area, error);
  const next = encodeURIComponent(location.pathname + location.search);
  area.replaceChildren(
    h("ul", { class: "error-messages", role: "alert" }, h("li", {}, "Your session has ended: ", h("a", { href: `/login?next=${next}` }, "sign in again"), " to go on.")),
  );
}

import { articleView } from "./article.bf45936a0b22.js";
import { loginView, registerView } from "./auth.65776f773d09.js";
import { avatar, h, icon, profileHref } from "./dom.7c142a0de31e.js";
import { editorView } from "./editor.270ddaeaae50.js";
import { emptyState, loadingState } from "./feedback.43d9cd5d8b88.js";
import { homeView } from "./home.b44f92438605.js";
import { favoritesView, profileView } from "./profile.23e252881c38.js";
import { match, navigate, onNavigate, route, startRouter } from "./router.761dfbb052a0.js";
import { authState, currentUser, onSessionChange, restoreSession, retryNow } from "./session.8817a2d71848.js";
import { settingsView } from "./settings.1f2e6d42c5f6.js";

const SIGNED_IN_ONLY = new Set([editorView, settingsView]);

route("/", homeView);
route("/tag/:tag", homeView);
route("/login", loginView);
route("/register", registerView);
route("/settings", settingsView);
route("/editor", editorView);
route("/editor/:slug", editorView);
route("/article/:slug", articleView);
route("/profile/:username", profileView);
route("/profile/:username/favorites", favoritesView);

const header = document.getElementById("header");
const main = document.getElementById("main");
let renders = 0;

function navLink(label, href, pathname) {
  const active = href === pathname;
  return h(
    "li",
    { class: "nav-item" },
    h("a", { class: active ? "nav-link active" : "nav-link", href, "aria-current": active ? "page" : false }, label),
  );
}

function navLinks(pathname) {
  const state = authState();
  const user = currentUser();
  if (state === "authenticated") {
    return [
      navLink("Home", "/", pathname),
      navLink([icon("compose"), " New Article"], "/editor", pathname),
      navLink([icon("gear-a"), " Settings"], "/settings", pathname),
      navLink([avatar(user.image, "user-pic"), user.username], profileHref(user.username), pathname),
    ];
  }
  if (state === "unauthenticated") {
    return [navLink("Home", "/", pathname), navLink("Sign in", "/login", pathname), navLink("Sign up", "/register", pathname)];
  }
  return [navLink("Home", "/", pathname)]; // loading, unavailable: whose session this is is not known yet
}

/** Shown while the session cannot be checked: the server is down or unreachable. */
function connectionStatus() {
  const retry = h("button", { type: "button", class: "btn btn-sm btn-outline-secondary" }, "Retry now");
  retry.addEventListener("click", () => {
    retry.disabled = true;
    retryNow();
  });
  return h(
    "div",
    { class: "connection-status", role: "status" },
    h(
      "div",
      { class: "container" },
      h("span", { class: "spinner", "aria-hidden": "true" }),
      h("p", {}, h("strong", {}, "Connecting to the server…"), h("span", {}, " You stay signed in; your account's pages come back as soon as it answers.")),
      retry,
    ),
  );
}

function drawHeader() {
  const nav = h(
    "nav",
    { class: "navbar navbar-light", "aria-label": "Main" },
    h("div", { class: "container" }, h("a", { class: "navbar-brand", href: "/" }, "conduit"), h("ul", { class: "nav navbar-nav pull-xs-right" }, navLinks(location.pathname))),
  );
  header.replaceChildren(nav, authState() === "unavailable" ? connectionStatus() : "");
}

function notFound() {
  return {
    title: "Page not found",
    node: h(
      "div",
      { class: "not-found-page container page" },
      emptyState(
        "not-found",
        "Page not found",
        "There is nothing at this address. It may be mistyped, or the page was moved or deleted. ",
        h("a", { href: "/" }, "Go to the home page"),
        ".",
      ),
    ),
  };
}

/** A page that needs the account while the server cannot say whose session this is. */
function waiting() {
  return {
    title: "Waiting for the server",
    node: h(
      "div",
      { class: "container page" },
      emptyState("waiting", "This page needs your account", "The server cannot be reached right now. This page will open by itself as soon as it answers."),
    ),
  };
}

function needsAccount(found, query) {
  return SIGNED_IN_ONLY.has(found.view) || (found.view === homeView && !found.params.tag && query.get("feed") === "following");
}

async function render({ first = false } = {}) {
  const current = ++renders;
  let found = match(location.pathname) ?? { view: notFound, params: {} };
  const query = new URLSearchParams(location.search);
  const state = authState();
  if (needsAccount(found, query)) {
    if (state === "unauthenticated") return navigate("/login", { replace: true });
    if (state !== "authenticated") found = { view: waiting, params: {} };
  }
  if (state === "authenticated" && (found.view === loginView || found.view === registerView)) {
    return navigate("/", { replace: true });
  }
  drawHeader();
  const setTitle = (title) => {
    if (current === renders) document.title = `${title} — Conduit`;
  };
  const { title, node } = await found.view({ params: found.params, query, isCurrent: () => current === renders, setTitle });
  if (current !== renders) return;
  main.replaceChildren(node);
  setTitle(title);
  if (!first) {
    window.scrollTo(0, 0);
    main.focus({ preventScroll: true });
  }
}

onNavigate(render);
onSessionChange((previous) => {
  // The server answered again after an outage: the page may now show the account's view of it.
  if (previous === "unavailable" && authState() !== "unavailable") render({ first: true });
  else drawHeader();
});
startRouter();
drawHeader();
main.replaceChildren(h("div", { class: "container page" }, loadingState("Loading Conduit…")));
restoreSession().then(() => render({ first: true }));

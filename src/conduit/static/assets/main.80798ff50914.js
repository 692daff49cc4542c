import { articleView } from "./article.8ce667babea8.js";
import { loginView, registerView } from "./auth.4cb9c4c9d036.js";
import { avatar, h, icon, profileHref } from "./dom.84a93861ed56.js";
import { editorView } from "./editor.b2e0052d2e0d.js";
import { homeView } from "./home.4b90d0b271fd.js";
import { favoritesView, profileView } from "./profile.45232eacd72d.js";
import { match, navigate, onNavigate, route, startRouter } from "./router.761dfbb052a0.js";
import { authState, currentUser, onSessionChange, restoreSession } from "./session.1aea945e7e6a.js";
import { settingsView } from "./settings.70c3699f9b8f.js";

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

function drawHeader() {
  const { pathname } = location;
  const user = currentUser();
  const links = user
    ? [
        navLink("Home", "/", pathname),
        navLink([icon("compose"), " New Article"], "/editor", pathname),
        navLink([icon("gear-a"), " Settings"], "/settings", pathname),
        navLink([avatar(user.image, "user-pic"), user.username], profileHref(user.username), pathname),
      ]
    : [navLink("Home", "/", pathname), navLink("Sign in", "/login", pathname), navLink("Sign up", "/register", pathname)];
  header.replaceChildren(
    h(
      "nav",
      { class: "navbar navbar-light", "aria-label": "Main" },
      h("div", { class: "container" }, h("a", { class: "navbar-brand", href: "/" }, "conduit"), h("ul", { class: "nav navbar-nav pull-xs-right" }, links)),
    ),
  );
}

function notFound() {
  return {
    title: "Page not found",
    node: h("div", { class: "container page" }, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "/" }, "Back to the home page"))),
  };
}

function guarded(found, query) {
  const signedIn = authState() === "authenticated";
  if (!signedIn && (SIGNED_IN_ONLY.has(found.view) || (found.view === homeView && query.get("feed") === "following"))) {
    return "/login";
  }
  if (signedIn && (found.view === loginView || found.view === registerView)) return "/";
  return null;
}

async function render({ first = false } = {}) {
  const current = ++renders;
  const found = match(location.pathname) ?? { view: notFound, params: {} };
  const query = new URLSearchParams(location.search);
  const redirect = guarded(found, query);
  if (redirect) return navigate(redirect, { replace: true });
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
onSessionChange(drawHeader);
startRouter();
restoreSession().then(() => render({ first: true }));

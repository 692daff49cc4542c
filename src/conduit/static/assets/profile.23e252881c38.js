import { ApiError, api, pick } from "./api.44bc4aa0ee03.js";
import { articleList, followButton, pageNumber } from "./components.64065f972cce.js";
import { avatar, h, icon, profileHref } from "./dom.7c142a0de31e.js";
import { errorArea, errorState, isNotFound, loadingState, reportFailure } from "./feedback.43d9cd5d8b88.js";
import { navigate } from "./router.761dfbb052a0.js";
import { currentUser } from "./session.8817a2d71848.js";

const reload = () => navigate(location.pathname + location.search, { replace: true });

function userInfo(profile, errors) {
  const own = currentUser()?.username === profile.username;
  const action = own
    ? h("a", { class: "btn btn-sm btn-outline-secondary action-btn", href: "/settings" }, icon("gear-a"), " Edit Profile Settings")
    : followButton(profile, { onError: (error) => reportFailure(errors, error) });
  return h(
    "div",
    { class: "user-info" },
    h(
      "div",
      { class: "container" },
      h(
        "div",
        { class: "row" },
        h(
          "div",
          { class: "col-xs-12 col-md-10 offset-md-1" },
          avatar(profile.image, "user-img", ""),
          h("h4", {}, profile.username),
          h("p", { class: "bio" }, profile.bio ?? ""),
          action,
        ),
      ),
    ),
  );
}

function tab(label, href, active) {
  return h(
    "li",
    { class: "nav-item" },
    h("a", { class: active ? "nav-link active" : "nav-link", href, "aria-current": active ? "page" : false }, label),
  );
}

/** The banner while loading or after a failure holds no .user-info: that is the loaded profile only. */
function banner(...content) {
  return h("div", { class: "profile-banner" }, h("div", { class: "container" }, content));
}

export function profileView({ params, query, isCurrent, setTitle, favorites = false }) {
  const { username } = params;
  const base = profileHref(username) + (favorites ? "/favorites" : "");
  const page = pageNumber(query);
  const errors = errorArea();
  const top = h("div", { class: "profile-top" });
  const articles = h(
    "div",
    { class: "container" },
    h(
      "div",
      { class: "row" },
      h(
        "div",
        { class: "col-xs-12 col-md-10 offset-md-1" },
        errors,
        h(
          "div",
          { class: "articles-toggle" },
          h(
            "ul",
            { class: "nav nav-pills outline-active", "aria-label": "Articles" },
            tab("My Articles", profileHref(username), !favorites),
            tab("Favorited Articles", `${profileHref(username)}/favorites`, favorites),
          ),
        ),
        articleList({
          filters: favorites ? { favorited: username } : { author: username },
          page,
          hrefFor: (n) => (n === 1 ? base : `${base}?page=${n}`),
          isCurrent,
          empty: favorites ? [`${username} has not favorited any article yet.`] : [`${username} has not written any article yet.`],
        }),
      ),
    ),
  );
  const load = () => {
    top.replaceChildren(banner(loadingState("Loading profile…")));
    api("GET", `/profiles/${encodeURIComponent(username)}`)
      .then((data) => {
        const profile = pick(data, "profile");
        if (typeof profile.username !== "string") throw new ApiError(200, null, "unreadable");
        if (isCurrent()) top.replaceChildren(userInfo(profile, errors));
      })
      .catch((error) => {
        if (!isCurrent()) return;
        articles.remove();
        const state = isNotFound(error)
          ? errorState({ title: "Profile not found", detail: `No one here is called “${username}”.`, home: true })
          : errorState({ title: "The profile could not be loaded.", error, retry: reload, home: true });
        top.replaceChildren(banner(state));
        setTitle(isNotFound(error) ? "Profile not found" : "Profile unavailable");
      });
  };
  load();
  return { title: username, node: h("div", { class: "profile-page" }, top, articles) };
}

export const favoritesView = (context) => profileView({ ...context, favorites: true });

import { api } from "./api.6510cf57ae82.js";
import { articleList, followButton, pageNumber } from "./components.8dc9527cb371.js";
import { avatar, errorList, h, icon, profileHref, showErrors } from "./dom.84a93861ed56.js";
import { currentUser } from "./session.1aea945e7e6a.js";

function userInfo(profile) {
  const own = currentUser()?.username === profile.username;
  const action = own
    ? h("a", { class: "btn btn-sm btn-outline-secondary action-btn", href: "/settings" }, icon("gear-a"), " Edit Profile Settings")
    : followButton(profile);
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
          profile.bio && h("p", {}, profile.bio),
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

export function profileView({ params, query, isCurrent, favorites = false }) {
  const { username } = params;
  const base = profileHref(username) + (favorites ? "/favorites" : "");
  const page = pageNumber(query);
  const header = h("div", { class: "user-info" }, h("div", { class: "container" }, h("p", { class: "muted" }, "Loading profile...")));
  const errors = errorList();
  api("GET", `/profiles/${encodeURIComponent(username)}`)
    .then(({ profile }) => isCurrent() && header.replaceWith(userInfo(profile)))
    .catch((error) => isCurrent() && showErrors(errors, error));
  const node = h(
    "div",
    { class: "profile-page" },
    header,
    h(
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
          }),
        ),
      ),
    ),
  );
  return { title: username, node };
}

export const favoritesView = (context) => profileView({ ...context, favorites: true });

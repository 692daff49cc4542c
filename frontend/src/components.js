import { api } from "./api.js";
import { articleHref, avatar, errorList, formatDate, h, icon, profileHref, showErrors } from "./dom.js";
import { navigate } from "./router.js";
import { authState, signOut } from "./session.js";

export const PAGE_SIZE = 10;

function requireSignIn() {
  if (authState() === "authenticated") return true;
  navigate("/login");
  return false;
}

export function favoriteButton(article, { label = null, onChange = () => {} } = {}) {
  const button = h("button", { type: "button", "data-action": "favorite" });
  const draw = () => {
    button.className = `btn btn-sm ${article.favorited ? "btn-primary" : "btn-outline-primary"}`;
    button.setAttribute("aria-pressed", String(article.favorited));
    const text = label && `${article.favorited ? "Unfavorite" : "Favorite"} ${label} `;
    button.replaceChildren(icon("heart"), " ", text ?? "", h("span", { class: "counter" }, label ? `(${article.favoritesCount})` : article.favoritesCount));
    if (!label) button.setAttribute("aria-label", `${article.favorited ? "Unfavorite" : "Favorite"} ${article.title} (${article.favoritesCount})`);
  };
  let busy = false;
  button.addEventListener("click", async () => {
    if (busy || !requireSignIn()) return;
    busy = true;
    button.setAttribute("aria-busy", "true");
    try {
      const path = `/articles/${encodeURIComponent(article.slug)}/favorite`;
      const { article: updated } = await api(article.favorited ? "DELETE" : "POST", path);
      Object.assign(article, { favorited: updated.favorited, favoritesCount: updated.favoritesCount });
      onChange(article);
    } catch (error) {
      if (error.status !== 401) throw error;
      signOut();
      navigate("/login");
    } finally {
      busy = false;
      button.removeAttribute("aria-busy");
      draw();
    }
  });
  draw();
  return button;
}

export function followButton(profile, { onChange = () => {} } = {}) {
  const button = h("button", { type: "button", "data-action": "follow" });
  const draw = () => {
    button.className = `btn btn-sm action-btn ${profile.following ? "btn-secondary" : "btn-outline-secondary"}`;
    button.setAttribute("aria-pressed", String(profile.following));
    button.replaceChildren(icon("plus-round"), ` ${profile.following ? "Unfollow" : "Follow"} ${profile.username}`);
  };
  let busy = false;
  button.addEventListener("click", async () => {
    if (busy || !requireSignIn()) return;
    busy = true;
    button.setAttribute("aria-busy", "true");
    try {
      const path = `/profiles/${encodeURIComponent(profile.username)}/follow`;
      const { profile: updated } = await api(profile.following ? "DELETE" : "POST", path);
      profile.following = updated.following;
      onChange(profile);
    } catch (error) {
      if (error.status !== 401) throw error;
      signOut();
      navigate("/login");
    } finally {
      busy = false;
      button.removeAttribute("aria-busy");
      draw();
    }
  });
  draw();
  return button;
}

export function authorMeta(article, ...actions) {
  const { author } = article;
  return h(
    "div",
    { class: "article-meta" },
    h("a", { href: profileHref(author.username), tabindex: "-1" }, avatar(author.image, "", "")),
    h(
      "div",
      { class: "info" },
      h("a", { href: profileHref(author.username), class: "author" }, author.username),
      h("time", { class: "date", datetime: article.createdAt }, formatDate(article.createdAt)),
    ),
    ...actions,
  );
}

export function tagList(tags) {
  return h("ul", { class: "tag-list" }, tags.map((tag) => h("li", { class: "tag-default tag-pill tag-outline" }, tag)));
}

function preview(article) {
  const favorite = favoriteButton(article);
  favorite.classList.add("pull-xs-right");
  return h(
    "div",
    { class: "article-preview" },
    authorMeta(article, favorite),
    h(
      "a",
      { href: articleHref(article.slug), class: "preview-link" },
      h("h1", {}, article.title),
      h("p", {}, article.description),
      h("span", {}, "Read more..."),
      tagList(article.tagList),
    ),
  );
}

function pagination(count, current, hrefFor) {
  const pages = Math.ceil(count / PAGE_SIZE);
  if (pages < 2) return null;
  return h(
    "nav",
    { "aria-label": "Pages" },
    h(
      "ul",
      { class: "pagination" },
      Array.from({ length: pages }, (_, i) => i + 1).map((page) =>
        h(
          "li",
          { class: page === current ? "page-item active" : "page-item" },
          h("a", { class: "page-link", href: hrefFor(page), "aria-current": page === current ? "page" : false }, page),
        ),
      ),
    ),
  );
}

export function pageNumber(query) {
  const page = Number.parseInt(query.get("page") ?? "1", 10);
  return Number.isFinite(page) && page > 0 ? page : 1;
}

export function articleList({ feed = false, filters = {}, page, hrefFor, isCurrent }) {
  const list = h("div", { class: "article-list", "aria-busy": "true" }, h("div", { class: "article-preview loading" }, "Loading articles..."));
  const query = new URLSearchParams({ ...filters, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
  api("GET", `/articles${feed ? "/feed" : ""}?${query}`)
    .then(({ articles, articlesCount }) => {
      if (!isCurrent()) return;
      list.removeAttribute("aria-busy");
      list.replaceChildren(
        ...(articles.length
          ? articles.map(preview)
          : [h("div", { class: "article-preview empty-feed-message" }, "No articles are here... yet.")]),
      );
      const pages = pagination(articlesCount, page, hrefFor);
      if (pages) list.append(pages);
    })
    .catch((error) => {
      if (!isCurrent()) return;
      const errors = errorList();
      showErrors(errors, error);
      list.replaceChildren(errors);
    });
  return list;
}

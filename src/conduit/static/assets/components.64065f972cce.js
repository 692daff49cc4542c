import { ApiError, api, pick } from "./api.44bc4aa0ee03.js";
import { articleHref, avatar, formatDate, h, icon, profileHref } from "./dom.7c142a0de31e.js";
import { emptyState, errorArea, errorState, loadingState, reportFailure } from "./feedback.43d9cd5d8b88.js";
import { navigate } from "./router.761dfbb052a0.js";
import { authState } from "./session.8817a2d71848.js";

export const PAGE_SIZE = 10;
/** Page numbers shown on each side of the current one. */
const PAGE_RADIUS = 2;

function requireSignIn() {
  if (authState() === "authenticated") return true;
  navigate("/login");
  return false;
}

/** A button that writes and redraws itself; a failure is reported to onError and changes nothing. */
function toggleButton(action, draw, onError) {
  const button = h("button", { type: "button" });
  let busy = false;
  button.addEventListener("click", async () => {
    if (busy || !requireSignIn()) return;
    busy = true;
    button.setAttribute("aria-busy", "true");
    try {
      await action();
    } catch (error) {
      onError(error);
    } finally {
      busy = false;
      button.removeAttribute("aria-busy");
      draw(button);
    }
  });
  draw(button);
  return button;
}

export function favoriteButton(article, { label = null, onChange = () => {}, onError = () => {} } = {}) {
  const draw = (button) => {
    button.className = `btn btn-sm ${article.favorited ? "btn-primary" : "btn-outline-primary"}`;
    button.dataset.action = "favorite";
    button.setAttribute("aria-pressed", String(article.favorited));
    const text = label && `${article.favorited ? "Unfavorite" : "Favorite"} ${label} `;
    button.replaceChildren(icon("heart"), " ", text ?? "", h("span", { class: "counter" }, label ? `(${article.favoritesCount})` : article.favoritesCount));
    if (!label) button.setAttribute("aria-label", `${article.favorited ? "Unfavorite" : "Favorite"} ${article.title} (${article.favoritesCount})`);
  };
  const action = async () => {
    const path = `/articles/${encodeURIComponent(article.slug)}/favorite`;
    const updated = pick(await api(article.favorited ? "DELETE" : "POST", path), "article");
    Object.assign(article, { favorited: Boolean(updated.favorited), favoritesCount: Number(updated.favoritesCount) || 0 });
    onChange(article);
  };
  return toggleButton(action, draw, onError);
}

export function followButton(profile, { onChange = () => {}, onError = () => {} } = {}) {
  const draw = (button) => {
    button.className = `btn btn-sm action-btn ${profile.following ? "btn-secondary" : "btn-outline-secondary"}`;
    button.dataset.action = "follow";
    button.setAttribute("aria-pressed", String(profile.following));
    button.replaceChildren(icon("plus-round"), ` ${profile.following ? "Unfollow" : "Follow"} ${profile.username}`);
  };
  const action = async () => {
    const path = `/profiles/${encodeURIComponent(profile.username)}/follow`;
    const updated = pick(await api(profile.following ? "DELETE" : "POST", path), "profile");
    profile.following = Boolean(updated.following);
    onChange(profile);
  };
  return toggleButton(action, draw, onError);
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

function preview(article, onError) {
  const favorite = favoriteButton(article, { onError });
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
      tagList(article.tagList ?? []),
    ),
  );
}

/** First, previous, the pages around the current one, next, last: a few items whatever the count. */
export function pageWindow(current, pages, radius = PAGE_RADIUS) {
  const width = Math.min(pages, 2 * radius + 1);
  const start = Math.min(Math.max(1, current - radius), pages - width + 1);
  return Array.from({ length: width }, (_, i) => start + i);
}

function pagination(count, current, hrefFor) {
  const pages = Math.ceil(count / PAGE_SIZE);
  if (pages < 2) return null;
  const step = (label, symbol, page, rel) => {
    const enabled = page >= 1 && page <= pages && page !== current;
    const content = [h("span", { "aria-hidden": "true" }, symbol), h("span", { class: "page-label" }, ` ${label}`)];
    return h(
      "li",
      { class: `page-item page-step${enabled ? "" : " disabled"}` },
      enabled
        ? h("a", { class: "page-link", href: hrefFor(page), rel, "aria-label": `${label} page (${page})` }, content)
        : h("span", { class: "page-link", "aria-disabled": "true" }, content),
    );
  };
  const numbers = pageWindow(current, pages).map((page) =>
    h(
      "li",
      { class: page === current ? "page-item page-number active" : "page-item page-number" },
      h("a", { class: "page-link", href: hrefFor(page), "aria-label": `Page ${page} of ${pages}`, "aria-current": page === current ? "page" : false }, page),
    ),
  );
  return h(
    "nav",
    { "aria-label": "Pages" },
    h(
      "ul",
      { class: "pagination" },
      step("First", "«", 1, false),
      step("Previous", "‹", current - 1, "prev"),
      numbers,
      step("Next", "›", current + 1, "next"),
      step("Last", "»", pages, false),
    ),
  );
}

export function pageNumber(query) {
  const page = Number.parseInt(query.get("page") ?? "1", 10);
  return Number.isFinite(page) && page > 0 ? page : 1;
}

/**
 * A feed: loading, then the articles and the pages, or a designed empty or error state.
 * empty: [title, ...detail] shown when there is no article at all.
 */
export function articleList({ feed = false, filters = {}, page, hrefFor, isCurrent, empty }) {
  const errors = errorArea();
  const body = h("div", { class: "article-list-body" });
  const list = h("div", { class: "article-list" }, errors, body);
  const query = new URLSearchParams({ ...filters, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
  const load = () => {
    list.setAttribute("aria-busy", "true");
    body.replaceChildren(loadingState("Loading articles…"));
    api("GET", `/articles${feed ? "/feed" : ""}?${query}`)
      .then((data) => {
        const articles = pick(data, "articles");
        if (!Array.isArray(articles)) throw new ApiError(200, null, "unreadable");
        const count = Number(data.articlesCount) || 0;
        if (!isCurrent()) return;
        list.removeAttribute("aria-busy");
        const report = (error) => reportFailure(errors, error);
        if (articles.length) {
          body.replaceChildren(...articles.map((article) => preview(article, report)), pagination(count, page, hrefFor) ?? "");
        } else if (count > 0) {
          const last = Math.ceil(count / PAGE_SIZE);
          body.replaceChildren(
            emptyState("empty-feed-message", `There is no page ${page} here.`, "This list has ", last, last === 1 ? " page. " : " pages. ", h("a", { href: hrefFor(last) }, "Go to the last page"), "."),
            pagination(count, page, hrefFor) ?? "",
          );
        } else {
          body.replaceChildren(emptyState("empty-feed-message", ...empty));
        }
      })
      .catch((error) => {
        if (!isCurrent()) return;
        list.removeAttribute("aria-busy");
        body.replaceChildren(errorState({ title: "Articles could not be loaded.", error, retry: load }));
      });
  };
  load();
  return list;
}

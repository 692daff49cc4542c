import { api } from "./api.js";
import { articleList, pageNumber } from "./components.js";
import { h, tagHref } from "./dom.js";
import { authState } from "./session.js";

function tab(label, href, active) {
  return h(
    "li",
    { class: "nav-item" },
    h("a", { class: active ? "nav-link active" : "nav-link", href, "aria-current": active ? "page" : false }, label),
  );
}

function popularTags(isCurrent) {
  const tags = h("div", { class: "tag-list" }, h("p", { class: "muted" }, "Loading tags..."));
  api("GET", "/tags")
    .then(({ tags: names }) => {
      if (!isCurrent()) return;
      tags.replaceChildren(
        ...(names.length
          ? names.map((name) => h("a", { href: tagHref(name), class: "tag-pill tag-default" }, name))
          : [h("p", { class: "muted" }, "No tags are here... yet.")]),
      );
    })
    .catch(() => isCurrent() && tags.replaceChildren(h("p", { class: "muted" }, "Tags are unavailable.")));
  return h("aside", { class: "sidebar", "aria-labelledby": "popular-tags" }, h("p", { id: "popular-tags" }, "Popular Tags"), tags);
}

export function homeView({ params, query, isCurrent }) {
  const signedIn = authState() === "authenticated";
  const tag = params.tag ?? null;
  const following = !tag && query.get("feed") === "following";
  const page = pageNumber(query);
  const base = tag ? tagHref(tag) : following ? "/?feed=following" : "/";
  const hrefFor = (n) => (n === 1 ? base : `${base}${base.includes("?") ? "&" : "?"}page=${n}`);
  const tabs = [
    signedIn && tab("Your Feed", "/?feed=following", following),
    tab("Global Feed", "/", !tag && !following),
    tag && tab(["# ", tag], tagHref(tag), true),
  ];
  const node = h(
    "div",
    { class: "home-page" },
    h(
      "div",
      { class: "banner" },
      h("div", { class: "container" }, h("h1", { class: "logo-font" }, "conduit"), h("p", {}, "A place to share your knowledge.")),
    ),
    h(
      "div",
      { class: "container page" },
      h(
        "div",
        { class: "row" },
        h(
          "div",
          { class: "col-md-9" },
          h("div", { class: "feed-toggle" }, h("ul", { class: "nav nav-pills outline-active", "aria-label": "Feeds" }, tabs)),
          articleList({ feed: following, filters: tag ? { tag } : {}, page, hrefFor, isCurrent }),
        ),
        h("div", { class: "col-md-3" }, popularTags(isCurrent)),
      ),
    ),
  );
  return { title: tag ? `#${tag}` : following ? "Your Feed" : "Home", node };
}

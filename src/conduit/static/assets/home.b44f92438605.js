import { ApiError, api, pick } from "./api.44bc4aa0ee03.js";
import { articleList, pageNumber } from "./components.64065f972cce.js";
import { h, icon, tagHref } from "./dom.7c142a0de31e.js";
import { authState } from "./session.8817a2d71848.js";

function tab(label, href, active) {
  return h(
    "li",
    { class: "nav-item" },
    h("a", { class: active ? "nav-link active" : "nav-link", href, "aria-current": active ? "page" : false }, label),
  );
}

function popularTags(isCurrent) {
  const tags = h("div", { class: "tag-list" });
  const load = () => {
    tags.setAttribute("aria-busy", "true");
    tags.replaceChildren(h("p", { class: "sidebar-note", role: "status" }, "Loading tags…"));
    api("GET", "/tags")
      .then((data) => {
        const names = pick(data, "tags");
        if (!Array.isArray(names)) throw new ApiError(200, null, "unreadable");
        if (!isCurrent()) return;
        tags.removeAttribute("aria-busy");
        tags.replaceChildren(
          ...(names.length
            ? names.map((name) => h("a", { href: tagHref(name), class: "tag-pill tag-default" }, name))
            : [h("p", { class: "sidebar-note" }, "No tags yet: tag an article and it shows here.")]),
        );
      })
      .catch(() => {
        if (!isCurrent()) return;
        tags.removeAttribute("aria-busy");
        const retry = h("button", { type: "button", class: "btn-link" }, icon("refresh"), " Try again");
        retry.addEventListener("click", load);
        tags.replaceChildren(h("p", { class: "sidebar-note", role: "alert" }, "Tags could not be loaded. "), retry);
      });
  };
  load();
  return h("aside", { class: "sidebar", "aria-labelledby": "popular-tags" }, h("p", { id: "popular-tags" }, "Popular Tags"), tags);
}

function emptyFeed(tag, following, signedIn) {
  if (following) {
    return ["Your feed is empty.", "Follow writers to see their new articles here, or read everyone's in the ", h("a", { href: "/" }, "Global Feed"), "."];
  }
  if (tag) return [`No articles are tagged “${tag}” yet.`, h("a", { href: "/" }, "See every article"), "."];
  const write = signedIn ? h("a", { href: "/editor" }, "write the first one") : h("a", { href: "/register" }, "sign up and write the first one");
  return ["No articles are here... yet.", "Why not ", write, "?"];
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
          articleList({ feed: following, filters: tag ? { tag } : {}, page, hrefFor, isCurrent, empty: emptyFeed(tag, following, signedIn) }),
        ),
        h("div", { class: "col-md-3" }, popularTags(isCurrent)),
      ),
    ),
  );
  return { title: tag ? `#${tag}` : following ? "Your Feed" : "Home", node };
}

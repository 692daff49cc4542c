import { ApiError, api, pick } from "./api.js";
import { authorMeta, favoriteButton, followButton, tagList } from "./components.js";
import { avatar, field, formatDate, h, icon, profileHref } from "./dom.js";
import { emptyState, errorArea, errorState, isNotFound, loadingState, reportFailure, showErrors } from "./feedback.js";
import { renderMarkdown } from "./markdown.js";
import { navigate } from "./router.js";
import { authState, currentUser } from "./session.js";

const articlePath = (slug) => `/articles/${encodeURIComponent(slug)}`;

function ownerActions(article, errors) {
  const edit = h("a", { class: "btn btn-sm btn-outline-secondary", href: `/editor/${encodeURIComponent(article.slug)}` }, icon("edit"), " Edit Article");
  const remove = h("button", { type: "button", class: "btn btn-sm btn-outline-danger" }, icon("trash-a"), " Delete Article");
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try {
      await api("DELETE", articlePath(article.slug));
      navigate("/");
    } catch (error) {
      reportFailure(errors, error);
      remove.disabled = false;
    }
  });
  return [edit, remove];
}

function meta(article, errors, redraw) {
  const user = currentUser();
  if (user && user.username === article.author.username) return authorMeta(article, ...ownerActions(article, errors));
  const onError = (error) => reportFailure(errors, error);
  return authorMeta(
    article,
    followButton(article.author, { onChange: redraw, onError }),
    favoriteButton(article, { label: "Article", onChange: redraw, onError }),
  );
}

function comment(item, slug, errors, onRemoved) {
  const user = currentUser();
  const footer = h(
    "div",
    { class: "card-footer" },
    h("a", { href: profileHref(item.author.username), class: "comment-author", tabindex: "-1" }, avatar(item.author.image, "comment-author-img")),
    h("a", { href: profileHref(item.author.username), class: "comment-author" }, item.author.username),
    h("time", { class: "date-posted", datetime: item.createdAt }, formatDate(item.createdAt)),
  );
  const card = h("div", { class: "card" }, h("div", { class: "card-block" }, h("p", { class: "card-text" }, item.body)), footer);
  if (user && user.username === item.author.username) {
    const remove = h("button", { type: "button", class: "btn-icon", "aria-label": "Delete comment" }, icon("trash-a"));
    remove.addEventListener("click", async () => {
      remove.disabled = true;
      try {
        await api("DELETE", `${articlePath(slug)}/comments/${encodeURIComponent(item.id)}`);
        card.remove();
        showErrors(errors, null);
        onRemoved();
      } catch (error) {
        reportFailure(errors, error);
        remove.disabled = false;
      }
    });
    footer.append(h("span", { class: "mod-options" }, remove));
  }
  return card;
}

function signInPrompt(slug) {
  const next = encodeURIComponent(`/article/${encodeURIComponent(slug)}`);
  return h(
    "p",
    { class: "comment-sign-in" },
    h("a", { href: `/login?next=${next}` }, "Sign in"),
    " or ",
    h("a", { href: `/register?next=${next}` }, "sign up"),
    " to add comments on this article.",
  );
}

function commentForm(slug, list, errors, onAdded) {
  const text = h("textarea", { class: "form-control", name: "comment", placeholder: "Write a comment...", rows: 3 });
  const post = h("button", { class: "btn btn-sm btn-primary", type: "submit" }, "Post Comment");
  const form = h(
    "form",
    { class: "card comment-form", novalidate: true },
    h("div", { class: "card-block" }, field("Comment", text)),
    h("div", { class: "card-footer" }, avatar(currentUser().image, "comment-author-img"), post),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    post.disabled = true;
    post.setAttribute("aria-busy", "true");
    try {
      const answer = pick(await api("POST", `${articlePath(slug)}/comments`, { comment: { body: text.value } }), "comment");
      text.value = "";
      showErrors(errors, null);
      list.prepend(comment(answer, slug, errors, onAdded));
      onAdded();
    } catch (error) {
      reportFailure(errors, error);
    } finally {
      post.disabled = false;
      post.removeAttribute("aria-busy");
    }
  });
  return form;
}

function comments(slug, isCurrent) {
  const errors = errorArea();
  const list = h("div", { class: "comment-list" });
  const status = h("div", { class: "comment-status" });
  const signedIn = authState() === "authenticated";
  const updateEmpty = () => {
    const none = list.childElementCount === 0;
    status.replaceChildren(none ? emptyState("comments-empty", "No comments yet.", signedIn ? "Be the first to say something." : "") : "");
  };
  const load = () => {
    status.replaceChildren(loadingState("Loading comments…", { compact: true }));
    api("GET", `${articlePath(slug)}/comments`)
      .then((data) => {
        const items = pick(data, "comments");
        if (!Array.isArray(items)) throw new ApiError(200, null, "unreadable");
        if (!isCurrent()) return;
        list.replaceChildren(...items.map((item) => comment(item, slug, errors, updateEmpty)));
        updateEmpty();
      })
      .catch((error) => isCurrent() && status.replaceChildren(errorState({ title: "Comments could not be loaded.", error, retry: load, compact: true })));
  };
  load();
  return h(
    "section",
    { class: "row comments", "aria-label": "Comments" },
    h(
      "div",
      { class: "col-xs-12 col-md-8 offset-md-2" },
      errors,
      signedIn ? commentForm(slug, list, errors, updateEmpty) : signInPrompt(slug),
      status,
      list,
    ),
  );
}

function page(article, isCurrent) {
  const errors = errorArea();
  const banner = h("div", { class: "container" });
  const actions = h("div", { class: "article-actions" });
  const redraw = () => {
    const focused = document.activeElement;
    const region = [banner, actions].find((candidate) => candidate.contains(focused));
    banner.replaceChildren(h("h1", {}, article.title), meta(article, errors, redraw));
    actions.replaceChildren(meta(article, errors, redraw));
    if (region && focused.dataset.action) region.querySelector(`[data-action="${focused.dataset.action}"]`)?.focus();
  };
  redraw();
  return h(
    "div",
    { class: "article-page" },
    h("div", { class: "banner" }, banner),
    h(
      "div",
      { class: "container page" },
      errors,
      h(
        "div",
        { class: "row article-content" },
        h("div", { class: "col-md-12" }, h("div", { class: "markdown" }, renderMarkdown(article.body)), tagList(article.tagList ?? [])),
      ),
      h("hr"),
      actions,
      comments(article.slug, isCurrent),
    ),
  );
}

export function articleView({ params, isCurrent, setTitle }) {
  const node = h("div", { class: "article-page" });
  const load = () => {
    node.replaceChildren(
      h("div", { class: "banner" }, h("div", { class: "container" }, h("p", { class: "banner-placeholder", "aria-hidden": "true" }))),
      h("div", { class: "container page" }, loadingState("Loading the article…")),
    );
    api("GET", articlePath(params.slug))
      .then((data) => {
        const article = pick(data, "article");
        if (typeof article.title !== "string" || !article.author) throw new ApiError(200, null, "unreadable");
        if (!isCurrent()) return;
        node.replaceWith(page(article, isCurrent));
        setTitle(article.title);
      })
      .catch((error) => {
        if (!isCurrent()) return;
        const state = isNotFound(error)
          ? errorState({ title: "Article not found", detail: "It may have been deleted, or the address is mistyped.", home: true })
          : errorState({ title: "The article could not be loaded.", error, retry: load, home: true });
        node.replaceChildren(h("div", { class: "container page" }, state));
        setTitle(isNotFound(error) ? "Article not found" : "Article unavailable");
      });
  };
  load();
  return { title: "Article", node };
}

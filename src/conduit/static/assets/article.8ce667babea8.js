import { api } from "./api.6510cf57ae82.js";
import { authorMeta, favoriteButton, followButton, tagList } from "./components.8dc9527cb371.js";
import { avatar, errorList, field, formatDate, h, icon, profileHref, showErrors } from "./dom.84a93861ed56.js";
import { renderMarkdown } from "./markdown.866afd01c9f3.js";
import { navigate } from "./router.761dfbb052a0.js";
import { authState, currentUser } from "./session.1aea945e7e6a.js";

function ownerActions(article, errors) {
  const edit = h("a", { class: "btn btn-sm btn-outline-secondary", href: `/editor/${encodeURIComponent(article.slug)}` }, icon("edit"), " Edit Article");
  const remove = h("button", { type: "button", class: "btn btn-sm btn-outline-danger" }, icon("trash-a"), " Delete Article");
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try {
      await api("DELETE", `/articles/${encodeURIComponent(article.slug)}`);
      navigate("/");
    } catch (error) {
      showErrors(errors, error);
      remove.disabled = false;
    }
  });
  return [edit, remove];
}

function meta(article, errors, redraw) {
  const user = currentUser();
  if (user && user.username === article.author.username) return authorMeta(article, ...ownerActions(article, errors));
  return authorMeta(
    article,
    followButton(article.author, { onChange: redraw }),
    favoriteButton(article, { label: "Article", onChange: redraw }),
  );
}

function comment(item, slug, errors) {
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
        await api("DELETE", `/articles/${encodeURIComponent(slug)}/comments/${item.id}`);
        card.remove();
      } catch (error) {
        showErrors(errors, error);
        remove.disabled = false;
      }
    });
    footer.append(h("span", { class: "mod-options" }, remove));
  }
  return card;
}

function commentForm(slug, list, errors) {
  if (authState() !== "authenticated") {
    return h("p", { class: "comment-sign-in" }, h("a", { href: "/login" }, "Sign in"), " or ", h("a", { href: "/register" }, "sign up"), " to add comments on this article.");
  }
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
    try {
      const answer = await api("POST", `/articles/${encodeURIComponent(slug)}/comments`, { comment: { body: text.value } });
      text.value = "";
      showErrors(errors, null);
      list.prepend(comment(answer.comment, slug, errors));
    } catch (error) {
      showErrors(errors, error);
    } finally {
      post.disabled = false;
    }
  });
  return form;
}

function comments(slug, isCurrent) {
  const errors = errorList();
  const list = h("div", { class: "comment-list" });
  api("GET", `/articles/${encodeURIComponent(slug)}/comments`)
    .then((answer) => isCurrent() && list.replaceChildren(...answer.comments.map((item) => comment(item, slug, errors))))
    .catch((error) => isCurrent() && showErrors(errors, error));
  return h(
    "section",
    { class: "row", "aria-label": "Comments" },
    h("div", { class: "col-xs-12 col-md-8 offset-md-2" }, errors, commentForm(slug, list, errors), list),
  );
}

function page(article, isCurrent) {
  const errors = errorList();
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
        h("div", { class: "col-md-12" }, h("div", { class: "markdown" }, renderMarkdown(article.body)), tagList(article.tagList)),
      ),
      h("hr"),
      actions,
      comments(article.slug, isCurrent),
    ),
  );
}

export function articleView({ params, isCurrent, setTitle }) {
  const node = h("div", { class: "article-page" }, h("div", { class: "container page" }, h("p", { class: "muted" }, "Loading article...")));
  api("GET", `/articles/${encodeURIComponent(params.slug)}`)
    .then(({ article }) => {
      if (!isCurrent()) return;
      node.replaceWith(page(article, isCurrent));
      setTitle(article.title);
    })
    .catch((error) => {
      if (!isCurrent()) return;
      const errors = errorList();
      showErrors(errors, error);
      node.replaceChildren(h("div", { class: "container page" }, h("h1", {}, "Article unavailable"), errors));
    });
  return { title: "Article", node };
}

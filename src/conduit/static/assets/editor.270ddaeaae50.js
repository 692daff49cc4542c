import { ApiError, api, pick } from "./api.44bc4aa0ee03.js";
import { articleHref, field, h, icon } from "./dom.7c142a0de31e.js";
import { errorArea, errorState, isNotFound, loadingState, reportFailure } from "./feedback.43d9cd5d8b88.js";
import { navigate } from "./router.761dfbb052a0.js";
import { currentUser } from "./session.8817a2d71848.js";

function tagEditor(tags) {
  const input = h("input", { id: "field-tags", type: "text", class: "form-control", placeholder: "Enter tags", autocomplete: "off" });
  const list = h("div", { class: "tag-list", "aria-live": "polite" });
  const draw = () =>
    list.replaceChildren(
      ...tags.map((tag) => {
        const remove = h("button", { type: "button", class: "tag-remove", "aria-label": `Remove tag ${tag}` }, icon("close-round"));
        remove.addEventListener("click", () => {
          tags.splice(tags.indexOf(tag), 1);
          draw();
          input.focus();
        });
        return h("span", { class: "tag-default tag-pill" }, remove, tag);
      }),
    );
  const addPending = () => {
    for (const tag of input.value.split(",").map((t) => t.trim())) {
      if (tag && !tags.includes(tag)) tags.push(tag);
    }
    input.value = "";
    draw();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === ",") {
      event.preventDefault();
      addPending();
    }
  });
  input.addEventListener("blur", addPending);
  draw();
  const group = field("Tags (press Enter after each)", input);
  group.append(list);
  return { group, addPending };
}

export function editorView({ params, isCurrent }) {
  const slug = params.slug ?? null;
  const errors = errorArea();
  const tags = [];
  const title = h("input", { type: "text", class: "form-control form-control-lg", name: "title", placeholder: "Article Title" });
  const description = h("input", { type: "text", class: "form-control", name: "description", placeholder: "What's this article about?" });
  const body = h("textarea", { class: "form-control", name: "body", rows: 12, placeholder: "Write your article (in markdown)" });
  const tagField = tagEditor(tags);
  const publish = h("button", { class: "btn btn-lg pull-xs-right btn-primary", type: "submit" }, "Publish Article");
  const group = h(
    "fieldset",
    {},
    field("Title", title),
    field("Description", description),
    field("Body (markdown)", body),
    tagField.group,
    publish,
  );
  const form = h("form", { novalidate: true }, group);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    tagField.addPending();
    const article = { title: title.value, description: description.value, body: body.value, tagList: [...tags] };
    group.disabled = true;
    publish.setAttribute("aria-busy", "true");
    try {
      const path = slug ? `/articles/${encodeURIComponent(slug)}` : "/articles";
      const saved = pick(await api(slug ? "PUT" : "POST", path, { article }), "article");
      navigate(articleHref(saved.slug));
    } catch (error) {
      reportFailure(errors, error);
      group.disabled = false;
    } finally {
      publish.removeAttribute("aria-busy");
    }
  });
  const column = h("div", { class: "col-md-10 offset-md-1 col-xs-12" }, h("h1", { class: "editor-title" }, slug ? "Edit article" : "New article"));
  const load = () => {
    column.replaceChildren(column.firstChild, loadingState("Loading the article…"));
    api("GET", `/articles/${encodeURIComponent(slug)}`)
      .then((data) => {
        const article = pick(data, "article");
        if (typeof article.title !== "string") throw new ApiError(200, null, "unreadable");
        if (!isCurrent()) return;
        if (article.author?.username !== currentUser()?.username) {
          column.replaceChildren(column.firstChild, errorState({ title: "Only its author can edit this article.", detail: `“${article.title}” is ${article.author?.username}'s.`, home: true }));
          return;
        }
        title.value = article.title;
        description.value = article.description ?? "";
        body.value = article.body ?? "";
        tags.splice(0, tags.length, ...(article.tagList ?? []));
        tagField.addPending();
        column.replaceChildren(column.firstChild, errors, form);
      })
      .catch((error) => {
        if (!isCurrent()) return;
        const state = isNotFound(error)
          ? errorState({ title: "Article not found", detail: "It may have been deleted, or the address is mistyped.", home: true })
          : errorState({ title: "The article could not be loaded for editing.", error, retry: load });
        column.replaceChildren(column.firstChild, state);
      });
  };
  if (slug) load();
  else column.append(errors, form);
  const node = h("div", { class: "editor-page" }, h("div", { class: "container page" }, h("div", { class: "row" }, column)));
  return { title: slug ? "Edit article" : "New article", node };
}

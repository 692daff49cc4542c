import { api } from "./api.6510cf57ae82.js";
import { articleHref, errorList, field, h, icon, showErrors } from "./dom.84a93861ed56.js";
import { navigate } from "./router.761dfbb052a0.js";

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
  const errors = errorList();
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
    try {
      const path = slug ? `/articles/${encodeURIComponent(slug)}` : "/articles";
      const answer = await api(slug ? "PUT" : "POST", path, { article });
      navigate(articleHref(answer.article.slug));
    } catch (error) {
      showErrors(errors, error);
      group.disabled = false;
    }
  });
  if (slug) {
    group.disabled = true;
    api("GET", `/articles/${encodeURIComponent(slug)}`)
      .then(({ article }) => {
        if (!isCurrent()) return;
        title.value = article.title;
        description.value = article.description;
        body.value = article.body;
        tags.push(...article.tagList);
        tagField.addPending();
        group.disabled = false;
      })
      .catch((error) => isCurrent() && showErrors(errors, error));
  }
  const node = h(
    "div",
    { class: "editor-page" },
    h(
      "div",
      { class: "container page" },
      h(
        "div",
        { class: "row" },
        h("div", { class: "col-md-10 offset-md-1 col-xs-12" }, h("h1", { class: "editor-title" }, slug ? "Edit article" : "New article"), errors, form),
      ),
    ),
  );
  return { title: slug ? "Edit article" : "New article", node };
}

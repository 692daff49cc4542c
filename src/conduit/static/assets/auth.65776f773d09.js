import { api, pick } from "./api.44bc4aa0ee03.js";
import { field, h, localPath } from "./dom.7c142a0de31e.js";
import { errorArea, showErrors } from "./feedback.43d9cd5d8b88.js";
import { navigate } from "./router.761dfbb052a0.js";
import { signIn } from "./session.8817a2d71848.js";

function input(name, type, placeholder, autocomplete) {
  return h("input", { class: "form-control form-control-lg", name, type, placeholder, autocomplete, required: true });
}

function authView({ query, heading, other, otherLabel, path, fields }) {
  const next = localPath(query.get("next"));
  const errors = errorArea();
  const submit = h("button", { class: "btn btn-lg btn-primary pull-xs-right", type: "submit" }, heading);
  const group = h("fieldset", {}, fields.map(([label, control]) => field(label, control)), submit);
  const form = h("form", { novalidate: true }, group);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const user = Object.fromEntries(new FormData(form));
    group.disabled = true;
    submit.setAttribute("aria-busy", "true");
    try {
      signIn(pick(await api("POST", path, { user }), "user"));
      navigate(next ?? "/");
    } catch (error) {
      showErrors(errors, error);
      group.disabled = false;
    } finally {
      submit.removeAttribute("aria-busy");
    }
  });
  const otherHref = next ? `${other}?next=${encodeURIComponent(next)}` : other;
  const node = h(
    "div",
    { class: "auth-page" },
    h(
      "div",
      { class: "container page" },
      h(
        "div",
        { class: "row" },
        h(
          "div",
          { class: "col-md-6 offset-md-3 col-xs-12" },
          h("h1", { class: "text-xs-center" }, heading),
          h("p", { class: "text-xs-center" }, h("a", { href: otherHref }, otherLabel)),
          errors,
          form,
        ),
      ),
    ),
  );
  return { title: heading, node };
}

export const loginView = ({ query }) =>
  authView({
    query,
    heading: "Sign in",
    other: "/register",
    otherLabel: "Need an account?",
    path: "/users/login",
    fields: [
      ["Email", input("email", "email", "Email", "email")],
      ["Password", input("password", "password", "Password", "current-password")],
    ],
  });

export const registerView = ({ query }) =>
  authView({
    query,
    heading: "Sign up",
    other: "/login",
    otherLabel: "Have an account?",
    path: "/users",
    fields: [
      ["Username", input("username", "text", "Username", "username")],
      ["Email", input("email", "email", "Email", "email")],
      ["Password", input("password", "password", "Password", "new-password")],
    ],
  });

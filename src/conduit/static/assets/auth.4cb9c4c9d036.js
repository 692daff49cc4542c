import { api } from "./api.6510cf57ae82.js";
import { errorList, field, h, showErrors } from "./dom.84a93861ed56.js";
import { navigate } from "./router.761dfbb052a0.js";
import { signIn } from "./session.1aea945e7e6a.js";

function input(name, type, placeholder, autocomplete) {
  return h("input", { class: "form-control form-control-lg", name, type, placeholder, autocomplete, required: true });
}

function authView({ heading, other, otherLabel, path, fields }) {
  const errors = errorList();
  const submit = h("button", { class: "btn btn-lg btn-primary pull-xs-right", type: "submit" }, heading);
  const group = h("fieldset", {}, fields.map(([label, control]) => field(label, control)), submit);
  const form = h("form", { novalidate: true }, group);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const user = Object.fromEntries(new FormData(form));
    group.disabled = true;
    try {
      const answer = await api("POST", path, { user });
      signIn(answer.user);
      navigate("/");
    } catch (error) {
      showErrors(errors, error);
      group.disabled = false;
    }
  });
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
          h("p", { class: "text-xs-center" }, h("a", { href: other }, otherLabel)),
          errors,
          form,
        ),
      ),
    ),
  );
  return { title: heading, node };
}

export const loginView = () =>
  authView({
    heading: "Sign in",
    other: "/register",
    otherLabel: "Need an account?",
    path: "/users/login",
    fields: [
      ["Email", input("email", "email", "Email", "email")],
      ["Password", input("password", "password", "Password", "current-password")],
    ],
  });

export const registerView = () =>
  authView({
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

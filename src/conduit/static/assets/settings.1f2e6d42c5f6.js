import { api, pick } from "./api.44bc4aa0ee03.js";
import { field, h, profileHref } from "./dom.7c142a0de31e.js";
import { errorArea, reportFailure } from "./feedback.43d9cd5d8b88.js";
import { navigate } from "./router.761dfbb052a0.js";
import { currentUser, signIn, signOut } from "./session.8817a2d71848.js";

export function settingsView() {
  const user = currentUser();
  const errors = errorArea();
  const controls = [
    ["URL of profile picture", h("input", { class: "form-control", name: "image", type: "url", placeholder: "URL of profile picture", value: user.image ?? "" })],
    ["Username", h("input", { class: "form-control form-control-lg", name: "username", type: "text", placeholder: "Your Name", autocomplete: "username", value: user.username })],
    ["Bio", h("textarea", { class: "form-control form-control-lg", name: "bio", rows: 8, placeholder: "Short bio about you", value: user.bio ?? "" })],
    ["Email", h("input", { class: "form-control form-control-lg", name: "email", type: "email", placeholder: "Email", autocomplete: "email", value: user.email })],
    ["New password", h("input", { class: "form-control form-control-lg", name: "password", type: "password", placeholder: "New Password", autocomplete: "new-password" })],
  ];
  const submit = h("button", { class: "btn btn-lg btn-primary pull-xs-right", type: "submit" }, "Update Settings");
  const group = h("fieldset", {}, controls.map(([label, control]) => field(label, control)), submit);
  const form = h("form", { novalidate: true }, group);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changes = Object.fromEntries(new FormData(form));
    if (!changes.password) delete changes.password;
    group.disabled = true;
    submit.setAttribute("aria-busy", "true");
    try {
      const updated = pick(await api("PUT", "/user", { user: changes }), "user");
      signIn({ ...updated, token: updated.token || currentUser().token });
      navigate(profileHref(updated.username));
    } catch (error) {
      reportFailure(errors, error);
    } finally {
      group.disabled = false;
      submit.removeAttribute("aria-busy");
    }
  });
  const logout = h("button", { type: "button", class: "btn btn-outline-danger" }, "Or click here to logout.");
  logout.addEventListener("click", () => {
    signOut();
    navigate("/");
  });
  const node = h(
    "div",
    { class: "settings-page" },
    h(
      "div",
      { class: "container page" },
      h(
        "div",
        { class: "row" },
        h("div", { class: "col-md-6 offset-md-3 col-xs-12" }, h("h1", { class: "text-xs-center" }, "Your Settings"), errors, form, h("hr"), logout),
      ),
    ),
  );
  return { title: "Settings", node };
}

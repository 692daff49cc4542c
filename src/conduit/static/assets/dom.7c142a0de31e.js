export const DEFAULT_AVATAR = "/static/default-avatar.svg";

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "value") element.value = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...nodes(children));
  return element;
}

function nodes(children) {
  return children
    .flat(Infinity)
    .filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => (child instanceof Node ? child : String(child)));
}

export function icon(name) {
  return h("i", { class: `ion-${name}`, "aria-hidden": "true" });
}

/** A user's picture (https only: the CSP blocks the rest), or the default one when it is unset or fails. */
export function avatar(image, className, alt = "") {
  const img = h("img", { src: image || DEFAULT_AVATAR, class: className, alt, referrerpolicy: "no-referrer", decoding: "async" });
  img.addEventListener("error", () => img.classList.add("avatar-fallback"));
  return img;
}

export function formatDate(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleDateString("en-US", { month: "long", day: "numeric", year: "numeric" });
}

export function field(label, control) {
  control.id ||= `field-${control.name}`;
  return h(
    "fieldset",
    { class: "form-group" },
    h("label", { class: "visually-hidden", for: control.id }, label),
    control,
  );
}

/** A path of this site to come back to after signing in (never another origin). */
export function localPath(value) {
  return typeof value === "string" && /^\/(?![/\\])/.test(value) ? value : null;
}

export const profileHref = (username) => `/profile/${encodeURIComponent(username)}`;
export const articleHref = (slug) => `/article/${encodeURIComponent(slug)}`;
export const tagHref = (tag) => `/tag/${encodeURIComponent(tag)}`;

import { marked } from "./marked.js";
import DOMPurify from "./purify.js";

const SAFE = {
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
  FORBID_ATTR: ["style", "class", "id"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

function loadable(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "https:" || parsed.origin === location.origin;
  } catch {
    return false;
  }
}

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.getAttribute("href")) {
    node.setAttribute("rel", "nofollow noopener noreferrer");
  }
  if (node.tagName === "IMG") {
    // Our own images and those of https sites show (the CSP allows img-src 'self' https:), without telling
    // those sites where they were seen; anything else (plain http, other schemes) is not loaded.
    const src = node.getAttribute("src");
    if (src && !loadable(src)) {
      node.removeAttribute("src");
      node.setAttribute("title", "An image that is not served over https, not loaded");
    }
    node.removeAttribute("srcset");
    node.setAttribute("referrerpolicy", "no-referrer");
    node.setAttribute("loading", "lazy");
  }
});

export function renderMarkdown(text) {
  return DOMPurify.sanitize(marked.parse(text ?? "", { async: false, gfm: true }), SAFE);
}

import { marked } from "./marked.js";
import DOMPurify from "./purify.js";

const SAFE = {
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
  FORBID_ATTR: ["style", "class", "id"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

function elsewhere(url) {
  try {
    return new URL(url, location.href).origin !== location.origin;
  } catch {
    return true;
  }
}

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.getAttribute("href")) {
    node.setAttribute("rel", "nofollow noopener noreferrer");
  }
  if (node.tagName === "IMG" && node.getAttribute("src") && elsewhere(node.getAttribute("src"))) {
    node.removeAttribute("src");
    node.setAttribute("title", "An image from another site, not loaded");
  }
});

export function renderMarkdown(text) {
  return DOMPurify.sanitize(marked.parse(text ?? "", { async: false, gfm: true }), SAFE);
}

const routes = [];
const listeners = new Set();
let shown = location.pathname + location.search;

function changed() {
  const now = location.pathname + location.search;
  if (now === shown) return;
  shown = now;
  for (const listener of listeners) listener();
}

export function route(pattern, view) {
  const names = [];
  const source = pattern.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return "([^/]+)";
  });
  routes.push({ regex: new RegExp(`^${source}/?$`), names, view });
}

export function match(pathname) {
  for (const { regex, names, view } of routes) {
    const found = regex.exec(pathname);
    if (!found) continue;
    try {
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      return { view, params };
    } catch {
      return null;
    }
  }
  return null;
}

export const onNavigate = (listener) => listeners.add(listener);

export function navigate(url, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"](null, "", url);
  shown = null;
  changed();
}

function ownsLink(event, link) {
  if (!link || event.defaultPrevented || event.button !== 0) return false;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
  if (link.target || link.hasAttribute("download") || link.getAttribute("href").startsWith("#")) return false;
  if (link.origin !== location.origin) return false;
  return !/^\/(api|static)\//.test(link.pathname);
}

export function startRouter() {
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!ownsLink(event, link)) return;
    event.preventDefault();
    navigate(link.pathname + link.search);
  });
  window.addEventListener("popstate", changed);
}

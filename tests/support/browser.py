"""A site under test and a browser tab on it, recording what the page requested and what went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import (
    Page,
)

from tests.support.servers import REPO

SCREENSHOTS = REPO / "var" / "screenshots"


#: Visible text whose contrast with its background is below WCAG AA (4.5:1), as "tag.class: ratio text".
LOW_CONTRAST = """() => {
  const rgba = (color) => color.match(/[\\d.]+/g).map(Number);
  const channel = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (element) => {
    for (; element; element = element.parentElement) {
      const color = rgba(getComputedStyle(element).backgroundColor);
      if (color.length < 4 || color[3] > 0) return color;
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const element of document.querySelectorAll("body *")) {
    const own = [...element.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE);
    const text = own.map((node) => node.textContent).join("").trim();
    if (!text || !element.checkVisibility() || element.closest(".visually-hidden, .skip-link")) continue;
    const [a, b] = [luminance(rgba(getComputedStyle(element).color)), luminance(background(element))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${element.tagName}.${element.className}: ${ratio.toFixed(2)} ${text}`);
  }
  return low;
}"""


@dataclass
class Site:
    name: str
    url: str


@dataclass
class Tab:
    """A page of its own browser context, and what happened in it."""

    page: Page
    site: Site
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def go(self, path: str) -> Page:
        self.page.goto(self.site.url + path)
        return self.page

    def screenshot(self, name: str) -> None:
        """Save the page under var/screenshots/ and check that all its visible text is readable."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{self.site.name}-{name}.png", full_page=True)
        assert self.page.evaluate(LOW_CONTRAST) == [], name

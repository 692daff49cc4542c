"""A site under test and a browser tab on it, recording what the page requested and what went wrong."""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field

from playwright.sync_api import Page, expect

from harness.net import http_request
from tests.support.servers import REPO

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


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


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour: the picture that "another site" serves in these tests."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class Tab:
    """A page of its own browser context, and what happened in it."""

    page: Page
    site: Site
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    #: Images at https URLs that a user supplied (an avatar, a picture in an article): the only requests
    #: that may leave our origin. This machine has no internet, so the test serves them itself.
    user_images: set[str] = field(default_factory=set)

    def go(self, path: str) -> Page:
        self.page.goto(self.site.url + path)
        return self.page

    def serve_user_image(self, url: str, rgb: tuple[int, int, int] = (46, 125, 50)) -> None:
        self.user_images.add(url)
        picture = png(8, 8, rgb)
        self.page.context.route(
            url, lambda route: route.fulfill(status=200, content_type="image/png", body=picture)
        )

    def screenshot(self, name: str) -> None:
        """Save the page under test-artifacts/screenshots/ and check that all its visible text is readable."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{self.site.name}-{name}.png", full_page=True)
        assert self.page.evaluate(LOW_CONTRAST) == [], name


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def sign_up(tab: Tab, username: str) -> Page:
    page = tab.go("/register")
    expect(page.locator("h1")).to_have_text("Sign up")
    page.fill('input[name="username"]', username)
    page.fill('input[name="email"]', f"{username}@example.com")
    page.fill('input[name="password"]', "password123")
    page.click('button:has-text("Sign up")')
    expect(page.locator(".navbar")).to_contain_text(username)
    expect(page).to_have_url(tab.site.url + "/")
    return page


def publish(page: Page, title: str, body: str, tags: list[str]) -> str:
    """Write an article in the editor; returns its slug."""
    page.click('a.nav-link:has-text("New Article")')
    page.fill('input[name="title"]', title)
    page.fill('input[name="description"]', f"What {title} is about")
    page.fill('textarea[name="body"]', body)
    for tag in tags:
        page.fill('input[placeholder="Enter tags"]', tag)
        page.keyboard.press("Enter")
    expect(page.locator(".editor-page .tag-list .tag-pill")).to_have_count(len(tags))
    page.click('button:has-text("Publish Article")')
    expect(page.locator(".article-page .banner h1")).to_have_text(title)
    return page.url.rsplit("/article/", 1)[1]


def api_token(site: Site, username: str) -> str:
    user = {"user": {"username": username, "email": f"{username}@example.com", "password": "password123"}}
    created = http_request(site.url, "POST", "/api/users", user)
    assert created.status == 201, created.body
    token: str = created.json()["user"]["token"]
    return token

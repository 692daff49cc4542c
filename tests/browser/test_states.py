"""Every page's loading, error and empty states, the unknown page, the lost connection, the windowed
pagination, and a screenshot of each at desktop and phone widths (test-artifacts/screenshots/, each one
also checked for 4.5:1 text contrast).

Failures of the server are made by answering the browser's API calls in the test (``page.route``): the
same means the official RealWorld suite uses, on our own origin.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

from harness.net import http_request
from tests.support.browser import Site, Tab, api_token, publish, sign_up, unique

pytestmark = pytest.mark.slow

OpenTab = Callable[[], Tab]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def both_widths(tab: Tab, name: str) -> None:
    tab.page.set_viewport_size(PHONE)
    tab.screenshot(f"{name}-phone")
    tab.page.set_viewport_size(DESKTOP)
    tab.screenshot(f"{name}-desktop")


def hold(route: Route) -> None:
    """Never answer: the page stays in its loading state."""


def fail(status: int) -> Callable[[Route], None]:
    body = '{"errors": {"server": ["is having a bad day"]}}'
    return lambda route: route.fulfill(status=status, content_type="application/json", body=body)


def forget(tab: Tab, *urls: str) -> None:
    """The errors Chromium logs for responses a test made fail on purpose."""
    tab.errors[:] = [e for e in tab.errors if not any(url in e for url in urls)]


def test_pages_show_designed_loading_error_and_empty_states(open_tab: OpenTab, site: Site) -> None:
    tab = open_tab()
    page = tab.page
    api = f"{site.url}/api"

    page.route(f"{api}/articles?*", hold)
    page.route(f"{api}/tags", hold)
    tab.go("/")
    expect(page.locator(".article-list .state-loading")).to_contain_text("Loading articles")
    expect(page.locator(".sidebar .tag-list")).to_contain_text("Loading tags")
    both_widths(tab, "home-loading")
    page.unroute(f"{api}/articles?*")
    page.unroute(f"{api}/tags")

    page.route(f"{api}/articles?*", fail(500))
    page.route(f"{api}/tags", lambda route: route.abort("internetdisconnected"))
    tab.go("/")
    error = page.locator(".article-list .state-error")
    expect(error).to_contain_text("Articles could not be loaded.")
    expect(error.locator(".error-messages")).to_contain_text("server is having a bad day")
    expect(page.locator(".sidebar")).to_contain_text("Tags could not be loaded.")
    expect(page.locator(".banner")).to_be_visible()
    both_widths(tab, "home-error")
    page.unroute(f"{api}/articles?*")
    page.unroute(f"{api}/tags")
    error.locator("button", has_text="Try again").click()  # the server is back: the list loads
    expect(page.locator(".article-list .state-error")).to_have_count(0)
    expect(page.locator(".article-list .state-loading")).to_have_count(0)

    page.route(f"{api}/profiles/*", fail(503))
    tab.go("/profile/somebody")
    expect(page.locator(".profile-page .state-error")).to_contain_text("The profile could not be loaded.")
    expect(page.locator(".user-info")).to_have_count(0)
    both_widths(tab, "profile-error")
    page.unroute(f"{api}/profiles/*")
    tab.go(f"/profile/nobody{uuid.uuid4().hex[:6]}")
    expect(page.locator(".profile-page .state-error")).to_contain_text("Profile not found")
    both_widths(tab, "profile-not-found")

    page.route(f"{api}/articles/*", lambda route: route.abort("connectionrefused"))
    tab.go("/article/some-article")
    state = page.locator(".article-page .state-error")
    expect(state).to_contain_text("The article could not be loaded.")
    expect(state.locator(".error-messages")).to_contain_text("Unable to connect")
    both_widths(tab, "article-error")
    page.unroute(f"{api}/articles/*")
    forget(tab, "/api/")

    username = unique("newcomer")
    sign_up(tab, username)
    tab.go("/?feed=following")
    empty = page.locator(".empty-feed-message")
    expect(empty).to_contain_text("Your feed is empty.")
    expect(empty.locator('a[href="/"]')).to_be_visible()
    both_widths(tab, "feed-empty")
    tab.go(f"/profile/{username}")
    expect(page.locator(".user-info h4")).to_have_text(username)
    expect(page.locator(".user-info p")).to_have_text("")
    expect(page.locator(".empty-feed-message")).to_contain_text(
        f"{username} has not written any article yet."
    )
    both_widths(tab, "profile-empty")
    tab.go(f"/tag/nothing{uuid.uuid4().hex[:6]}")
    expect(page.locator(".empty-feed-message")).to_contain_text("No articles are tagged")
    tab.go("/editor")
    both_widths(tab, "editor")
    tab.go("/settings")
    expect(page.locator('input[name="email"]')).to_have_value(f"{username}@example.com")
    both_widths(tab, "settings")

    page.route(f"{api}/articles", lambda route: route.abort("internetdisconnected"))
    tab.go("/editor")
    page.fill('input[name="title"]', "Offline thoughts")
    page.fill('input[name="description"]', "Written on a train")
    page.fill('textarea[name="body"]', "The tunnel ate my connection.")
    page.click('button:has-text("Publish Article")')
    expect(page.locator(".editor-page .error-messages")).to_contain_text("Unable to connect")
    expect(page.locator('input[name="title"]')).to_have_value("Offline thoughts")  # nothing is lost
    both_widths(tab, "editor-error")
    page.unroute(f"{api}/articles")

    slug = publish(page, f"Quiet corner {uuid.uuid4().hex[:4]}", "Nobody has said anything yet.", ["calm"])
    expect(page.locator(".comments .comments-empty")).to_contain_text("No comments yet.")
    both_widths(tab, "article")
    tab.go(f"/editor/{slug}")
    expect(page.locator('input[name="title"]')).to_have_value(re.compile("Quiet corner"))
    forget(tab, "/api/")


def test_an_unknown_page_is_the_uis_404_page(open_tab: OpenTab, site: Site) -> None:
    tab = open_tab()
    answer = tab.page.goto(f"{site.url}/no/such/page")
    assert answer is not None
    assert answer.status == 404
    page = tab.page
    expect(page.locator(".not-found-page")).to_contain_text("Page not found")
    expect(page.locator("nav.navbar")).to_be_visible()
    both_widths(tab, "not-found")
    page.click('.not-found-page a[href="/"]')
    expect(page.locator(".banner h1")).to_have_text("conduit")
    tab.errors[:] = [e for e in tab.errors if e != f"404 for {site.url}/no/such/page"]


def test_a_server_that_cannot_be_reached_keeps_the_session_and_reconnects(
    open_tab: OpenTab, site: Site
) -> None:
    tab = open_tab()
    username = unique("patient")
    page = sign_up(tab, username)
    token = page.evaluate("__conduit_debug__.getToken()")
    page.route(f"{site.url}/api/user", fail(502))
    page.reload()
    expect(page.locator("text=Connecting")).to_be_visible()
    assert page.evaluate("[__conduit_debug__.getAuthState(), __conduit_debug__.getToken()]") == [
        "unavailable",
        token,
    ]
    tab.go("/settings")  # a page that needs the account waits for the server instead of sending to /login
    expect(page).to_have_url(f"{site.url}/settings")
    expect(page.locator(".waiting")).to_contain_text("This page needs your account")
    both_widths(tab, "connecting")
    page.unroute(f"{site.url}/api/user")
    page.click('.connection-status button:has-text("Retry now")')
    expect(page.locator("text=Connecting")).to_have_count(0)
    expect(page.locator('input[name="email"]')).to_have_value(f"{username}@example.com")  # the page opened
    expect(page.locator(f'.navbar a[href="/profile/{username}"]')).to_be_visible()
    forget(tab, "/api/user")


def test_pagination_shows_a_window_of_pages_whatever_their_number(open_tab: OpenTab, site: Site) -> None:
    author = unique("prolific")
    token = api_token(site, author)
    tag = unique("window")
    for number in range(75):  # 8 pages of 10
        article = {"title": f"Entry {number}", "description": "d", "body": "b", "tagList": [tag]}
        created = http_request(
            site.url, "POST", "/api/articles", {"article": article}, {"Authorization": f"Token {token}"}
        )
        assert created.status == 201, created.body
    tab = open_tab()
    page: Page = tab.go(f"/tag/{tag}?page=5")
    numbers = page.locator(".pagination .page-number")
    expect(numbers).to_have_text(["3", "4", "5", "6", "7"])
    expect(page.locator(".pagination .page-item.active")).to_have_text("5")
    steps = page.locator(".pagination .page-step a")
    expect(steps).to_have_count(4)
    expect(page.locator('.pagination a[rel="next"]')).to_have_attribute("href", f"/tag/{tag}?page=6")
    expect(page.locator('.pagination a[rel="prev"]')).to_have_attribute("href", f"/tag/{tag}?page=4")
    both_widths(tab, "pagination-middle")
    page.locator(".pagination .page-step a", has_text="Last").click()
    expect(page).to_have_url(f"{site.url}/tag/{tag}?page=8")
    expect(page.locator(".article-preview")).to_have_count(5)
    expect(numbers).to_have_text(["4", "5", "6", "7", "8"])
    expect(page.locator(".pagination .page-item.disabled")).to_have_text(
        [re.compile("Next"), re.compile("Last")]
    )
    tab.go(f"/tag/{tag}?page=40")
    expect(page.locator(".empty-feed-message")).to_contain_text("There is no page 40 here.")
    page.click('.empty-feed-message a:has-text("Go to the last page")')
    expect(page).to_have_url(f"{site.url}/tag/{tag}?page=8")

"""The web UI driven in Chromium, through gunicorn (embedded mode) and through the nginx stack.

Every tab must end without script errors, CSP violations or dialogs, and without a request that leaves
our origin (see ``open_tab`` in conftest.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from harness.net import http_request
from tests.support.browser import Site, Tab, api_token, publish, sign_up, unique

pytestmark = pytest.mark.slow

OpenTab = Callable[[], Tab]


def test_sign_up_publish_and_find_the_article_on_the_feed_and_under_its_tag(open_tab: OpenTab) -> None:
    tab = open_tab()
    page = tab.go("/")
    expect(page.locator(".banner h1")).to_have_text("conduit")
    assert page.evaluate("window.__conduit_debug__.getAuthState()") == "unauthenticated"
    tab.screenshot("home-signed-out")

    username = unique("writer")
    sign_up(tab, username)
    debug = page.evaluate(
        "({state: __conduit_debug__.getAuthState(), token: __conduit_debug__.getToken(),"
        " user: __conduit_debug__.getCurrentUser(), stored: localStorage.getItem('jwtToken')})"
    )
    assert debug["state"] == "authenticated"
    assert debug["token"] == debug["stored"] == debug["user"]["token"]
    assert debug["user"]["username"] == username
    expect(page.locator(".navbar .user-pic")).to_have_attribute("src", re.compile("default-avatar.svg"))

    tag = unique("tag")
    title = f"Growing tomatoes {uuid.uuid4().hex[:4]}"
    body = "## Soil first\n\nTomatoes like **rich** soil.\n\n- sun\n- water\n\n```\nwater(daily)\n```"
    page.click('a.nav-link:has-text("New Article")')
    tab.screenshot("editor")
    slug = publish(page, title, body, [tag, "gardening"])
    content = page.locator(".article-content")
    expect(content.locator("h2")).to_have_text("Soil first")
    expect(content.locator("strong")).to_have_text("rich")
    expect(content.locator(".markdown li")).to_have_count(2)
    expect(content.locator(".tag-list .tag-pill")).to_have_text(sorted([tag, "gardening"]))
    tab.screenshot("article")

    page.click('a.nav-link:has-text("Home")')
    preview = page.locator(".article-preview", has_text=title)
    expect(preview.locator(".preview-link h1")).to_have_text(title)
    expect(preview.locator(".author")).to_have_text(username)
    expect(page.locator('.feed-toggle a.nav-link:has-text("Global Feed")')).to_have_class(
        re.compile("active")
    )
    tab.screenshot("home-signed-in")

    page.click(f'.sidebar .tag-list a:has-text("{tag}")')
    expect(page).to_have_url(f"{tab.site.url}/tag/{tag}")
    expect(page.locator(".feed-toggle .nav-link.active")).to_have_text(f"# {tag}")
    expect(page.locator(".article-preview")).to_have_count(1)
    page.click(".article-preview .preview-link")
    expect(page).to_have_url(f"{tab.site.url}/article/{slug}")

    page.reload()  # a deep link is served index.html and restores the session from localStorage
    expect(page.locator(".article-page .banner h1")).to_have_text(title)
    expect(page.locator('.article-meta a:has-text("Edit Article")').first).to_be_visible()


def test_comment_and_delete_it(open_tab: OpenTab) -> None:
    tab = open_tab()
    page = sign_up(tab, unique("talker"))
    publish(page, f"Comments welcome {uuid.uuid4().hex[:4]}", "Say something.", [])
    page.fill('textarea[placeholder="Write a comment..."]', "First!\nA second line.")
    page.click('button:has-text("Post Comment")')
    posted = page.locator(".card:not(.comment-form) .card-block")
    expect(posted).to_have_text("First!\nA second line.")
    expect(page.locator('textarea[placeholder="Write a comment..."]')).to_have_value("")
    expect(page.locator(".card:not(.comment-form) .comment-author-img")).to_have_attribute(
        "src", re.compile("default-avatar.svg")
    )
    tab.screenshot("comments")

    page.reload()
    expect(posted).to_have_count(1)
    page.click(".mod-options .ion-trash-a")
    expect(posted).to_have_count(0)
    page.reload()
    expect(page.locator('textarea[placeholder="Write a comment..."]')).to_be_visible()
    expect(posted).to_have_count(0)


def test_a_reader_favourites_follows_and_sees_the_article_in_their_feed(open_tab: OpenTab) -> None:
    author_tab = open_tab()
    author = unique("author")
    page = sign_up(author_tab, author)
    title = f"Worth following {uuid.uuid4().hex[:4]}"
    slug = publish(page, title, "Good things.", ["follow"])

    reader_tab = open_tab()
    reader = unique("reader")
    page = sign_up(reader_tab, reader)
    expect(page.locator('.feed-toggle a.nav-link:has-text("Your Feed")')).to_be_visible()
    reader_tab.go("/?feed=following")
    expect(page.locator(".empty-feed-message")).to_be_visible()

    reader_tab.go(f"/article/{slug}")
    favorite = page.locator(".banner .article-meta button", has_text="Favorite Article")
    expect(favorite).to_have_class(re.compile("btn-outline-primary"))
    favorite.click()
    unfavorite = page.locator(".banner .article-meta button", has_text="Unfavorite Article")
    expect(unfavorite).to_have_class(re.compile(r"\bbtn-primary\b"))
    expect(unfavorite).to_contain_text("(1)")
    page.locator(".banner .article-meta button", has_text=f"Follow {author}").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".banner .article-meta button", has_text=f"Unfollow {author}")).to_be_focused()
    expect(page.locator(".article-actions button", has_text=f"Unfollow {author}")).to_be_visible()

    page.click('a.nav-link:has-text("Home")')
    page.click('.feed-toggle a.nav-link:has-text("Your Feed")')
    expect(page).to_have_url(f"{reader_tab.site.url}/?feed=following")
    preview = page.locator(".article-preview", has_text=title)
    expect(preview).to_be_visible()
    expect(preview.locator("button.btn-primary")).to_contain_text("1")

    reader_tab.go(f"/profile/{reader}")
    page.click('a:has-text("Favorited")')
    expect(page).to_have_url(f"{reader_tab.site.url}/profile/{reader}/favorites")
    expect(page.locator(".article-preview", has_text=title)).to_be_visible()

    reader_tab.go(f"/profile/{author}")
    expect(page.locator(".user-info h4")).to_have_text(author)
    expect(page.locator(".user-info .user-img")).to_have_attribute("src", re.compile("default-avatar.svg"))
    expect(page.locator(".user-info button", has_text=f"Unfollow {author}")).to_be_visible()
    reader_tab.screenshot("profile")
    page.locator(".user-info button", has_text=f"Unfollow {author}").click()
    expect(page.locator(".user-info button", has_text=f"Follow {author}")).to_be_visible()
    reader_tab.go("/?feed=following")
    expect(page.locator(".empty-feed-message")).to_be_visible()


def test_edit_and_delete_an_article(open_tab: OpenTab) -> None:
    tab = open_tab()
    username = unique("editor")
    page = sign_up(tab, username)
    slug = publish(page, f"First draft {uuid.uuid4().hex[:4]}", "Rough.", ["draft", "keep"])

    page.locator('.article-meta a:has-text("Edit Article")').first.click()
    expect(page).to_have_url(f"{tab.site.url}/editor/{slug}")
    expect(page.locator('textarea[name="body"]')).to_have_value("Rough.")
    page.locator('.editor-page .tag-pill:has-text("draft") button').click()
    page.fill('textarea[name="body"]', "Polished *prose*.")
    page.fill('input[placeholder="Enter tags"]', "final")
    page.click('button:has-text("Publish Article")')
    expect(page.locator(".article-content em")).to_have_text("prose")
    expect(page.locator(".article-content .tag-pill")).to_have_text(["final", "keep"])

    page.locator('button:has-text("Delete Article")').first.click()
    expect(page).to_have_url(tab.site.url + "/")
    tab.go(f"/profile/{username}")
    expect(page.locator(".empty-feed-message")).to_be_visible()
    tab.go(f"/article/{slug}")
    expect(page.locator(".article-page .state-error")).to_contain_text("Article not found")
    expect(page.locator('.article-page .state-error a[href="/"]')).to_be_visible()


def test_settings_update_and_logout(open_tab: OpenTab) -> None:
    tab = open_tab()
    old = unique("settler")
    page = sign_up(tab, old)
    page.click('a.nav-link:has-text("Settings")')
    expect(page.locator('input[name="email"]')).to_have_value(f"{old}@example.com")
    tab.screenshot("settings")
    new = unique("renamed")
    page.fill('input[name="username"]', new)
    page.fill('textarea[name="bio"]', "Gardener and writer.")
    page.click('button:has-text("Update Settings")')
    expect(page).to_have_url(f"{tab.site.url}/profile/{new}")
    expect(page.locator(".user-info p")).to_have_text("Gardener and writer.")
    expect(page.locator(".navbar")).to_contain_text(new)
    expect(page.locator('.user-info a:has-text("Edit Profile Settings")')).to_be_visible()

    page.click('a:has-text("Edit Profile Settings")')
    page.fill('input[name="image"]', "not a url")
    page.click('button:has-text("Update Settings")')
    expect(page.locator(".error-messages")).to_contain_text("image")

    # A plain-http picture: the API takes it, the CSP (img-src https:) does not load it, the default shows.
    plain = "http://images.example.com/plain.png"
    page.fill('input[name="image"]', plain)
    page.click('button:has-text("Update Settings")')
    picture = page.locator(".user-info .user-img")
    expect(picture).to_have_attribute("src", plain)
    expect(picture).to_have_class(re.compile("avatar-fallback"))
    expect(page.locator(".navbar .user-pic")).to_have_class(re.compile("avatar-fallback"))

    # An https picture from another site shows, in the profile and in the navbar.
    elsewhere = "https://images.example.com/me.png"
    tab.serve_user_image(elsewhere)
    page.click('a:has-text("Edit Profile Settings")')
    page.fill('input[name="image"]', elsewhere)
    page.click('button:has-text("Update Settings")')
    expect(picture).to_have_attribute("src", elsewhere)
    for image in (picture, page.locator(".navbar .user-pic")):
        expect(image).not_to_have_class(re.compile("avatar-fallback"))
        assert image.evaluate("img => img.complete && img.naturalWidth") == 8
        assert image.get_attribute("referrerpolicy") == "no-referrer"
    assert elsewhere in tab.requests

    page.click('a.nav-link:has-text("Settings")')
    page.click('button:has-text("Or click here to logout")')
    expect(page).to_have_url(tab.site.url + "/")
    expect(page.locator('.navbar a.nav-link:has-text("Sign in")')).to_be_visible()
    assert page.evaluate("[__conduit_debug__.getToken(), __conduit_debug__.getAuthState()]") == [
        None,
        "unauthenticated",
    ]
    tab.go("/settings")
    expect(page).to_have_url(tab.site.url + "/login")
    assert plain in tab.blocked
    blocked = [error for error in tab.errors if error.startswith(f"Loading the image '{plain}' violates")]
    assert blocked
    tab.errors[:] = [error for error in tab.errors if error not in blocked]


def test_script_in_an_article_or_a_comment_stays_inert(open_tab: OpenTab) -> None:
    tab = open_tab()
    page = sign_up(tab, unique("mallory"))
    attack = (
        "Hello <script>window.__owned = 'script'</script>\n\n"
        "<img src=\"x\" onerror=\"window.__owned = 'img'; alert('img')\">\n\n"
        "[click me](javascript:alert('link'))\n\n"
        '<a href="#" onclick="alert(\'onclick\')">inline handler</a>\n\n'
        '<iframe src="javascript:alert(1)"></iframe><svg><script>alert("svg")</script></svg>\n\n'
        "![picture](https://pictures.example.com/photo.png)\n\n"
        "![plain](http://pictures.example.com/plain.png) ![inline](data:image/png;base64,iVBORw0KGgo=)"
    )
    tab.serve_user_image("https://pictures.example.com/photo.png")
    publish(page, f"Totally harmless {uuid.uuid4().hex[:4]}", attack, [])
    content = page.locator(".article-content")
    expect(content).to_contain_text("Hello")
    assert content.locator("script, iframe, [onerror], [onclick]").count() == 0
    assert content.locator('a[href^="javascript"]').count() == 0
    photo = content.locator('img[alt="picture"]')  # an https image shows, and is not told where it is seen
    expect(photo).to_have_attribute("referrerpolicy", "no-referrer")
    page.wait_for_function("img => img.complete && img.naturalWidth === 8", arg=photo.element_handle())
    for name in ("plain", "inline"):  # plain http and data: are not loaded
        expect(content.locator(f'img[alt="{name}"]')).not_to_have_attribute("src", re.compile("."))
    content.locator("a", has_text="click me").click()
    content.locator("a", has_text="inline handler").click()

    comment = "<img src=x onerror=\"window.__owned='comment';alert('comment')\"><script>alert(2)</script>"
    page.fill('textarea[placeholder="Write a comment..."]', comment)
    page.click('button:has-text("Post Comment")')
    expect(page.locator(".card:not(.comment-form) .card-block")).to_have_text(comment)
    page.reload()
    expect(page.locator(".card:not(.comment-form) .card-block")).to_have_text(comment)
    assert page.evaluate("window.__owned") is None
    assert tab.dialogs == []
    # Chromium reports the handler attributes it meets while DOMPurify parses the body in an inert
    # document: the page's CSP blocks them there too, and the sanitizer then drops them.
    blocked = [e for e in tab.errors if e.startswith("Executing inline event handler") and "blocked" in e]
    assert all("/static/assets/purify." in error for error in blocked)
    tab.errors[:] = [error for error in tab.errors if error not in blocked]


def test_api_errors_show_in_error_messages(open_tab: OpenTab) -> None:
    tab = open_tab()
    page = tab.go("/login")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill('input[name="email"]', "nobody@example.com")
    page.fill('input[name="password"]', "wrong-password")
    page.click('button:has-text("Sign in")')
    expect(page.locator(".error-messages li")).to_have_count(1)
    expect(page.locator(".error-messages")).to_contain_text("invalid")
    tab.screenshot("sign-in-error")

    taken = unique("taken")
    api_token(tab.site, taken)
    page = tab.go("/register")
    page.fill('input[name="username"]', taken)
    page.fill('input[name="email"]', f"other-{taken}@example.com")
    page.fill('input[name="password"]', "password123")
    page.click('button:has-text("Sign up")')
    expect(page.locator(".error-messages")).to_contain_text("username")
    expect(page).to_have_url(tab.site.url + "/register")

    sign_up(tab, unique("blank"))
    tab.go("/editor")
    page.click('button:has-text("Publish Article")')
    expect(page.locator(".error-messages")).to_contain_text("title")


def test_feeds_are_paginated(open_tab: OpenTab, site: Site) -> None:
    author = unique("prolific")
    token = api_token(site, author)
    tag = unique("many")
    for number in range(12):
        article = {"title": f"Note {number}", "description": "d", "body": "b", "tagList": [tag]}
        created = http_request(
            site.url, "POST", "/api/articles", {"article": article}, {"Authorization": f"Token {token}"}
        )
        assert created.status == 201, created.body
    tab = open_tab()
    page = tab.go(f"/tag/{tag}")
    expect(page.locator(".article-preview")).to_have_count(10)
    expect(page.locator(".pagination .page-number")).to_have_text(["1", "2"])
    expect(page.locator(".pagination .page-item.active")).to_have_text("1")
    expect(page.locator(".pagination .page-item.disabled")).to_have_text(
        [re.compile("First"), re.compile("Previous")]
    )
    tab.screenshot("tag-feed")
    page.set_viewport_size({"width": 390, "height": 844})
    tab.screenshot("tag-feed-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click('.pagination .page-link:has-text("2")')
    expect(page).to_have_url(f"{site.url}/tag/{tag}?page=2")
    expect(page.locator(".article-preview")).to_have_count(2)
    expect(page.locator(".pagination .page-item.active")).to_have_text("2")
    tab.go(f"/profile/{author}?page=2")
    expect(page.locator(".article-preview")).to_have_count(2)


def test_keyboard_and_labels(open_tab: OpenTab) -> None:
    tab = open_tab()
    page = tab.go("/register")
    expect(page.locator('input[name="username"]')).to_be_visible()
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, textarea')]"
        ".filter(el => !el.labels.length || !el.labels[0].textContent.trim()).map(el => el.name)"
    )
    assert unlabelled == []
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator(".navbar-brand")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.locator('.navbar a.nav-link:has-text("Sign in")').focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page).to_have_url(tab.site.url + "/login")


def test_a_token_the_api_refuses_signs_the_browser_out(open_tab: OpenTab) -> None:
    tab = open_tab()
    page = tab.go("/")
    page.evaluate("localStorage.setItem('jwtToken', 'not-a-token')")
    page.reload()
    expect(page.locator('.navbar a.nav-link:has-text("Sign in")')).to_be_visible()
    assert page.evaluate("[__conduit_debug__.getAuthState(), __conduit_debug__.getToken()]") == [
        "unauthenticated",
        None,
    ]

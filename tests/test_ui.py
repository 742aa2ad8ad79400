"""The UI shell: accessible structure, vendored assets, both languages complete."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from housing.config import PROJECT_ROOT
from tests.conftest import login
from tests.factories import UserFactory


def test_the_shell_has_a_skip_link_and_landmarks(client, session):
    login(client, UserFactory(admin=True).email)
    page = client.get("/admin/users/new").text
    assert re.search(
        r'<a class="utrecht-skip-link[^"]*" href="#main">Direct naar de hoofdinhoud</a>', page
    )
    assert '<main id="main"' in page
    assert "<nav" in page and "<header" in page and "<footer" in page


def test_every_form_field_has_a_label(client, session):
    login(client, UserFactory(admin=True).email)
    for path in ("/admin/users/new", "/admin/office-holders/new", "/profile", "/account/password"):
        page = client.get(path).text
        inputs = re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', page)
        visible = [i for i in inputs if i != "csrf_token"]
        assert visible, path
        for field_id in visible:
            assert f'for="{field_id}"' in page, f"{path}: no label for #{field_id}"


def test_assets_are_served_from_here(client, session):
    page = client.get("/login").text
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
        with client.get(asset) as response:  # closes the streamed file
            assert response.status_code == 200, asset
    assert "https://" not in page.split("<body")[0]  # no CDN in the head
    assert 'rel="icon" href="/static/favicon.svg"' in page  # no 404 for /favicon.ico
    # htmx adds no inline <style> of its own, which the CSP (style-src 'self') would block.
    assert """content='{"includeIndicatorStyles": false}'""" in page
    with client.get("/static/css/theme.css") as theme:
        assert b".htmx-request .htmx-indicator" in theme.data


def test_the_dutch_catalog_translates_every_message():
    catalog_path = PROJECT_ROOT / "housing/translations/nl/LC_MESSAGES/messages.po"
    with catalog_path.open("rb") as handle:
        catalog = read_po(handle, locale="nl")
    # A plural message is translated when every form of it is (msgstr[0] and msgstr[1]).
    translated = {
        m.id[0] if isinstance(m.id, tuple) else m.id
        for m in catalog
        if m.id
        and (all(m.string) if isinstance(m.string, tuple) else m.string)
        and "fuzzy" not in m.flags
    }
    method_map = [("housing/**.py", "python"), ("templates/**.html", "jinja2")]
    found = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(
            str(PROJECT_ROOT),
            method_map=method_map,
            keywords={
                "_": None,
                "_l": None,
                "gettext": None,
                "lazy_gettext": None,
                "ngettext": (1, 2),
            },
        )
    }
    missing = sorted(found - translated)
    assert missing == [], "run `make messages` and translate: " + "; ".join(missing)


def test_english_is_available_everywhere(client, session):
    user = UserFactory(admin=True, language="en")
    login(client, user.email)
    page = client.get("/admin").text
    assert '<html lang="en"' in page and "Users" in page and "Gebruikers" not in page

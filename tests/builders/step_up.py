"""Step-up in tests: the step-up page's hidden fields, an aged authentication, a fresh code."""

from __future__ import annotations

import datetime as dt
import html
import re

from werkzeug.datastructures import MultiDict

from housing.accounts.factors import step_at
from housing.clock import utcnow
from tests.second_factor import code_for, factor_secret

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
ASKED = "Bevestig met uw code"


def hidden_fields(page: str) -> list[tuple[str, str]]:
    """What a browser would send from the step-up page: the hidden inputs of its form."""
    form = page[page.index('action="/step-up"') :].split("</form>")[0]
    return [(name, html.unescape(value)) for name, value in HIDDEN.findall(form)]


def age_authentication(client, by: dt.timedelta) -> None:
    """Move the session's stored authentication time back by `by`."""
    with client.session_transaction() as cookie:
        stored = cookie["authentication"]
        stored["at"] -= int(by.total_seconds())
        cookie["authentication"] = stored


def next_code(email: str) -> str:
    """A code the login did not use: the step after the one a login helper takes."""
    return code_for(factor_secret(email), step_at(utcnow()) + 1)


def confirm(client, page: str, code: str):
    fields = MultiDict([*hidden_fields(page), ("step_up_code", code)])
    return client.post("/step-up", data=fields)

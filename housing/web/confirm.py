"""The confirmation page of an act that cannot be undone: withdrawing an objection, closing
what is left of a grant, rejecting or cancelling a payout, cancelling a batch. The button
on the page where the act is offered leads here (a GET, no JavaScript); the form here does
the act. One template, `confirm.html`, draws every one of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flask import render_template
from flask.typing import ResponseReturnValue


@dataclass(frozen=True)
class Confirmation:
    """What the page says and sends. `fields` are the act's text fields (name → label),
    `hidden` its fixed values; `endpoint` is the view the form posts to, whose refusal
    draws this page again with what was typed (`refusal_shows_again`)."""

    title: str
    consequence: str
    action: str
    endpoint: str
    back: str
    back_label: str
    pre_heading: str = ""
    facts: Sequence[tuple[str, str]] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    hidden: Mapping[str, str] = field(default_factory=dict)


def confirmation_page(confirm: Confirmation) -> ResponseReturnValue:
    return render_template("confirm.html", confirm=confirm)

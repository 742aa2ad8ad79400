"""Dashboards per role: the organisation's figures as charts, each beside its table.

The charts are drawn here, on the server, as SVG (pygal, with no JavaScript) and served
from our own origin as images (`<img src>`), so the page's strict Content-Security-Policy
stays as it is: the chart's own styles live inside the image, where they style nothing
else and where no script runs. Every chart has its table beside it, with the same
figures, for screen readers and for copying.

Who sees what: assessors and deciders the claim figures, finance the money figures, the
administrator both (figures only, never a case); housing.claims.figures and
housing.payments.figures check the roles.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_decimal, format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from housing.claims import figures as claim_figures
from housing.claims.figures import CLAIM_FIGURE_ROLES, Period
from housing.clock import today as amsterdam_today
from housing.db import db
from housing.money import money_text
from housing.payments import figures as money_figures
from housing.payments.figures import MONEY_FIGURE_ROLES
from housing.roles import Role
from housing.web.access import current_scope, role_required
from housing.web.forms import STATE_LABELS
from workflows.rules import Regime

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

DASHBOARD_ROLES = (Role.ASSESSOR, Role.DECIDER, Role.FINANCE, Role.ADMIN)
# The years a period can be: from the first year of Regime A to next year.
FIRST_YEAR = 2021
# NL Design System's blues and the signal colours, each with 3:1 contrast on white.
CHART_STYLE = dict(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#595959",
    opacity="1",
    opacity_hover="1",
    colors=("#154273", "#b35c00", "#2e7d32", "#8a1538", "#5b5b5b"),
    font_family="sans-serif",
    label_font_size=14,
    major_label_font_size=14,
    value_font_size=13,
    legend_font_size=14,
    title_font_size=16,
)


def _period() -> tuple[Period, dict[str, str]]:
    """The period asked for in the query string, and the fields' messages when it is bad."""
    errors: dict[str, str] = {}
    year: int | None = None
    regime: Regime | None = None
    raw_year = (request.args.get("year") or "").strip()
    if raw_year:
        if raw_year.isdigit() and FIRST_YEAR <= int(raw_year) <= amsterdam_today().year + 1:
            year = int(raw_year)
        else:
            errors["year"] = _("Choose a year from the list.")
    raw_regime = (request.args.get("regime") or "").strip()
    if raw_regime:
        try:
            regime = Regime(raw_regime)
        except ValueError:
            errors["regime"] = _("Choose a regime from the list.")
    return Period(year=year, regime=regime), errors


def _shows(roles: frozenset[Role]) -> bool:
    return bool(current_user.roles & roles)


def figures_for(period: Period) -> dict[str, Any]:
    """The figures the reader's roles show for `period`, with what `dashboard/_figures.html`
    draws them with: for the dashboard and for the start pages."""
    scope = current_scope()
    today = amsterdam_today()
    figures: dict[str, Any] = {}
    if _shows(CLAIM_FIGURE_ROLES):
        figures.update(
            states=claim_figures.claims_by_state(db.session, scope, period),
            deadlines=claim_figures.deadlines(db.session, scope, period, today),
            lead_times=claim_figures.lead_times(db.session, scope, period),
            decision_weeks=current_user.organisation.decision_weeks,
        )
    if _shows(MONEY_FIGURE_ROLES):
        figures.update(
            budget=money_figures.budget(db.session, scope, period),
            payouts=money_figures.payouts_by_month(db.session, scope, period),
            spend=money_figures.spend_by_measure(db.session, scope, period),
        )
    chart_args = {
        key: value
        for key, value in (
            ("year", period.year),
            ("regime", period.regime.value if period.regime else None),
        )
        if value is not None
    }
    return dict(
        figures,
        chart_args=chart_args,
        format_number=format_decimal,
        format_percent=format_percent,
        month_label=month_label,
        chart_titles=CHART_TITLES,
        state_labels=STATE_LABELS,
    )


@bp.route("")
@role_required(*DASHBOARD_ROLES)
def show() -> ResponseReturnValue:
    period, errors = _period()
    today = amsterdam_today()
    return (
        render_template(
            "dashboard/show.html",
            period=period,
            errors=errors,
            years=range(today.year + 1, FIRST_YEAR - 1, -1),
            # A bad period shows every year and both regimes, as the page says.
            **figures_for(Period(year=None, regime=None) if errors else period),
        ),
        400 if errors else 200,
    )


# --- the charts, one SVG image each -----------------------------------------------------------
def _chart(kind: str, **options: Any) -> Any:
    # Imported when a chart is drawn: a command or another page does not load pygal.
    import pygal
    from pygal.style import Style

    _drop_pygal_plugin_finder(pygal)

    return getattr(pygal, kind)(
        js=[],  # no script: the image is drawn as it is, and the CSP needs none
        style=Style(**CHART_STYLE),
        width=720,
        height=360,
        explicit_size=False,
        legend_at_bottom=True,
        print_values=False,
        show_y_guides=True,
        truncate_label=-1,  # labels whole: "Termijn eindigt deze week"
        truncate_legend=-1,
        disable_xml_declaration=False,
        **options,
    )


def _drop_pygal_plugin_finder(pygal: Any) -> None:
    """pygal puts a finder for its former plugins (pygal.maps.*) on sys.meta_path at import,
    one without `find_spec`: every later import that no other finder answers then raises an
    ImportWarning through it (an error where warnings are, as in the tests). We use no
    plugin, so it goes."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]


def _number(value: float | None) -> str:
    return "" if value is None else str(format_decimal(value))


def _euro(value: float | None) -> str:
    return "" if value is None else money_text(Decimal(str(value)).quantize(Decimal("0.01")))


def month_label(month: str) -> str:
    """ "2026-03" as the reader's language writes a month: "mrt 2026"."""
    return str(format_date(dt.date(int(month[:4]), int(month[5:7]), 1), "MMM yyyy"))


def _count_ticks(chart: Any, values: Sequence[int]) -> None:
    """Whole numbers on a chart of counts: no "0,2 claims" on its axis."""
    top = max([*values, 1])
    magnitude = 10 ** (len(str(top)) - 1)
    # A round step (1, 2 or 5 times a power of ten) giving at most about six ticks.
    step = next(m * magnitude for m in (0.1, 0.2, 0.5, 1, 2, 5, 10) if m * magnitude * 6 >= top)
    step = max(1, int(step))
    chart.y_labels = list(range(0, top + step, step))


def _months(months: Sequence[str]) -> list[str]:
    return [month_label(m) for m in months]


def _states_chart(period: Period) -> Any:
    states = claim_figures.claims_by_state(db.session, current_scope(), period)
    chart = _chart("HorizontalBar", show_legend=False, value_formatter=_number)
    chart.x_labels = [str(STATE_LABELS[state.value]) for state in states]
    chart.add(_("Claims"), list(states.values()))
    _count_ticks(chart, list(states.values()))
    return chart


def _deadlines_chart(period: Period) -> Any:
    figures = claim_figures.deadlines(db.session, current_scope(), period, amsterdam_today())
    chart = _chart("Bar", show_legend=False, value_formatter=_number)
    chart.x_labels = [_("Due this week"), _("Overdue")]
    chart.add(_("Claims"), [figures.due_this_week, figures.overdue])
    _count_ticks(chart, [figures.due_this_week, figures.overdue])
    return chart


def _lead_time_chart(period: Period) -> Any:
    months = claim_figures.lead_times(db.session, current_scope(), period)
    term = current_user.organisation.decision_weeks * 7
    chart = _chart("Line", value_formatter=_number, dots_size=4)
    chart.x_labels = _months([m.month for m in months])
    chart.add(_("Median days"), [m.median_days for m in months])
    chart.add(_("Longest (days)"), [m.worst_days for m in months])
    # One month is one point: shown as a dot, as a line needs two.
    chart.add(_("Legal term (days)"), [term for _m in months], show_dots=len(months) == 1)
    # The term always within the axis, also when every claim was decided well within it.
    worst = max((m.worst_days or 0 for m in months), default=0)
    chart.range = (0, max(term, worst) * 1.1)
    return chart


def _budget_chart(period: Period) -> Any:
    years = sorted(money_figures.budget(db.session, current_scope(), period), key=lambda y: y.year)
    chart = _chart("Bar", value_formatter=_euro)
    chart.x_labels = [str(y.year) for y in years]
    chart.add(_("Committed"), [float(y.committed) for y in years])
    chart.add(_("Paid"), [float(y.paid) for y in years])
    chart.add(_("Available"), [None if y.remaining is None else float(y.remaining) for y in years])
    return chart


def _payouts_chart(period: Period) -> Any:
    months = money_figures.payouts_by_month(db.session, current_scope(), period)
    chart = _chart("StackedBar", value_formatter=_number)
    chart.x_labels = _months([m.month for m in months])
    chart.add(_("In progress"), [m.in_progress for m in months])
    chart.add(_("Returned"), [m.returned for m in months])
    chart.add(_("Booked"), [m.booked for m in months])
    _count_ticks(chart, [m.in_progress + m.returned + m.booked for m in months])
    return chart


def _spend_chart(period: Period) -> Any:
    spend = money_figures.spend_by_measure(db.session, current_scope(), period)
    chart = _chart("HorizontalBar", show_legend=False, value_formatter=_euro)
    chart.x_labels = [f"{s.measure} ({s.regime})" for s in spend]
    chart.add(_("Paid"), [float(s.paid) for s in spend])
    return chart


CHARTS: dict[str, tuple[frozenset[Role], Callable[[Period], Any]]] = {
    "states": (CLAIM_FIGURE_ROLES, _states_chart),
    "deadlines": (CLAIM_FIGURE_ROLES, _deadlines_chart),
    "lead-time": (CLAIM_FIGURE_ROLES, _lead_time_chart),
    "budget": (MONEY_FIGURE_ROLES, _budget_chart),
    "payouts": (MONEY_FIGURE_ROLES, _payouts_chart),
    "spend": (MONEY_FIGURE_ROLES, _spend_chart),
}
CHART_TITLES = {
    "states": _l("Claims by state"),
    "deadlines": _l("Deadlines this week and overdue"),
    "lead-time": _l("Lead time from receipt to decision"),
    "budget": _l("Budget per year"),
    "payouts": _l("Payouts per month"),
    "spend": _l("Spend per measure"),
}


@bp.route("/charts/<name>.svg")
@role_required(*DASHBOARD_ROLES)
def chart(name: str) -> ResponseReturnValue:
    if name not in CHARTS:
        abort(404)
    roles, draw = CHARTS[name]
    if not _shows(roles):
        abort(403)
    period, errors = _period()
    if errors:
        abort(400)
    return Response(_without_scripts(draw(period)), mimetype="image/svg+xml")


def _without_scripts(chart: Any) -> bytes:
    """The chart's SVG without pygal's script elements (its tooltips' set-up): an image
    runs none, and what it does not hold cannot run anywhere else."""
    from lxml import etree

    tree = chart.render_tree()  # an lxml element: pygal uses lxml where it is installed
    for script in list(tree.iter("script", "{http://www.w3.org/2000/svg}script")):
        script.getparent().remove(script)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="utf-8"))

"""The wizard in a real browser: leaving a changed form asks first; saving it does not."""

from __future__ import annotations

from playwright.sync_api import Dialog


def test_leaving_a_changed_scan_form_asks_first_and_saving_it_does_not(log_in, committed_worlds):
    world = committed_worlds("Gemeente Wijzer")
    claim = world.draft(lines=())
    applicant = log_in(world.applicant.email)
    applicant.goto(f"/claims/{claim.id}/wizard/scan")
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # "stay on this page"

    applicant.on("dialog", dismiss)
    # Unchanged: a step link leaves without asking.
    applicant.get_by_role("link", name="Maatregelen en bedragen").click()
    applicant.wait_for_url("**/wizard/measures")
    assert asked == []
    applicant.go_back()
    applicant.wait_for_url("**/wizard/scan")
    # Typed in: leaving asks, and staying keeps what was typed.
    applicant.locator("#adviser_name").press_sequentially("CCV-adviseur De Vries")
    applicant.get_by_role("link", name="Maatregelen en bedragen").click()
    applicant.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert applicant.url.endswith("/wizard/scan")
    assert applicant.locator("#adviser_name").input_value() == "CCV-adviseur De Vries"
    # Sending the form itself is never held up.
    applicant.fill("#scan_date", "2026-02-20")
    applicant.select_option("#pkvw_status", "certified")
    applicant.fill("#findings", "Brievenbus in de voordeur.")
    with applicant.expect_navigation():
        applicant.get_by_role("button", name="Opslaan en verder", exact=True).click()
    assert applicant.url.endswith("/wizard/measures")
    assert asked == ["beforeunload"]

"""E-mail through Flask-Mailman, configured from the app at the moment of sending."""

from __future__ import annotations

from flask import current_app
from flask_mailman import EmailMessage, Mail

mail = Mail()

# Never wait on a relay for ever: a stuck SMTP server must fail the attempt, not the worker.
SMTP_TIMEOUT_SECONDS = 30


def send_mail(*, to: str, subject: str, body: str, message_id: str) -> None:
    """Send one plain-text e-mail; raises on any failure so the outbox retries it."""
    config = current_app.config
    if config["MAIL_BACKEND"] == "smtp":
        connection = mail.get_connection(
            backend="smtp",
            host=config["MAIL_SERVER"],
            port=config["MAIL_PORT"],
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            use_tls=config.get("MAIL_USE_TLS", False),
            timeout=config.get("MAIL_TIMEOUT") or SMTP_TIMEOUT_SECONDS,
            fail_silently=False,
        )
    else:
        connection = mail.get_connection(
            backend="file", file_path=config["MAIL_FILE_DIR"], fail_silently=False
        )
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=config["MAIL_DEFAULT_SENDER"],
        to=[to],
        connection=connection,
        # One Message-ID per outbox message: a receiver can tell a resend from new news.
        headers={"Message-ID": message_id},
    )
    sent = message.send(fail_silently=False)
    if sent != 1:
        raise RuntimeError(f"the mail backend accepted {sent} messages instead of 1")

"""Notifications: by e-mail, in the app, or as a letter queued for printing."""

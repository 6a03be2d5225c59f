"""Refused spawn requests: what the user reads, and one INFO line in the hub's log.

JupyterHub shows ``str(exception)`` of a refused request on the spawn page
(``HTTP 403: error (...)``) unless the exception carries ``jupyterhub_message`` /
``jupyterhub_html_message``, and logs the same refusal at ERROR up to four times on its way
out (twice with a traceback). :class:`SpawnRefused` carries the plain message, with whom to
ask when the answer is "not for you"; :class:`RefusalLogFilter` drops the hub's ERROR records
of refusals already logged by :func:`log_refusal`.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from markupsafe import Markup, escape
from tornado import web
from tornado.log import app_log

#: longest typed value, or user name, written to a log line
LOG_VALUE_LIMIT = 200

_REASONS = {400: "Bad Request", 403: "Forbidden"}


def bounded(value: Any, limit: int = LOG_VALUE_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters: safe to log whatever a user typed."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def contact_html(contact: str) -> Markup:
    """A contact as a link where it is a URL or an e-mail address, else as text."""
    if contact.startswith(("https://", "http://")):
        return Markup('<a href="{0}" rel="noopener">{0}</a>').format(contact)
    if "@" in contact and " " not in contact and ":" not in contact:
        return Markup('<a href="mailto:{0}">{0}</a>').format(contact)
    return escape(contact)


class SpawnRefused(web.HTTPError, ValueError):
    """A spawn request refused before anything starts: 400 (unknown, malformed) or 403.

    Also a ``ValueError``, which is what KubeSpawner raises for options it refuses."""

    def __init__(self, status: int, message: str, contact: str = ""):
        super().__init__(status, message, reason=_REASONS.get(status, "Error"))
        self.message = message
        ask = ""
        ask_html = Markup("")
        if status == 403:
            if contact:
                ask = f" Ask {contact} for access."
                ask_html = Markup(" Ask {0} for access.").format(contact_html(contact))
            else:
                ask = " Ask this hub's admins for access."
                ask_html = escape(ask)
        self.jupyterhub_message = message + ask
        self.jupyterhub_html_message = escape(message) + ask_html

    def __str__(self) -> str:
        return self.jupyterhub_message


class RefusalLogFilter(logging.Filter):
    """Drops the hub's ERROR records of spawn requests refused (and logged) by us.

    A record is one of those when its exception is a :class:`SpawnRefused`, or when its text
    names one of the last refusals (JupyterHub also logs them as plain text).
    """

    def __init__(self, remember: int = 64):
        super().__init__("jhub-managed-refusals")
        self._recent: deque[str] = deque(maxlen=remember)

    def remember(self, refusal: SpawnRefused) -> None:
        self._recent.append(refusal.message)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        if record.exc_info and isinstance(record.exc_info[1], SpawnRefused):
            return False
        if self._recent:
            text = record.getMessage()
            return not any(message in text for message in self._recent)
        return True


#: one filter for the hub's loggers: its own, and tornado's, which ``User.spawn`` logs to
_FILTER = RefusalLogFilter()


def refusal_filter(log: logging.Logger) -> RefusalLogFilter:
    """The filter, on ``log`` (the hub's own logger) and on tornado's application logger,
    added the first time it is needed."""
    for logger in (log, app_log):
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return _FILTER


def log_refusal(log: logging.Logger, user: str, profile: Any, refusal: SpawnRefused) -> None:
    """One INFO line: who, which profile, why (values bounded, as users typed them)."""
    refusal_filter(log).remember(refusal)
    log.info(
        "Refused spawn request of %s for profile %s (%s): %s",
        bounded(user),
        bounded(profile or "(default)"),
        refusal.status_code,
        refusal.message,
    )


def describe_selection(choices: dict[str, str], typed: dict[str, str]) -> str:
    """``interface=lab, path (typed)='/lab/tree/notes'`` for the log line of a start."""
    parts = [f"{key}={bounded(value)}" for key, value in choices.items()]
    parts += [f"{key} (typed)={bounded(value)}" for key, value in typed.items()]
    return ", ".join(parts) or "no options"

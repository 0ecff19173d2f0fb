"""The one exception the template language raises, and how its messages are made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def gettext_noop(template: str) -> str:
    """Mark `template` for the Dutch catalog (Django's makemessages finds this name); returns it.

    The engine imports no Django: it marks its messages, and the Django app translates them.
    """
    return template


def _english(template: str, **params: Any) -> str:
    return template % params if params else template


# Makes a message from its marked template and its named parameters. Plain English by default;
# the Django app (`integrations.apps`) sets `integrations.texts.Text`, which is the same English
# str that can also be shown in the reader's language.
message_factory: Callable[..., str] = _english


def message(template: str, **params: Any) -> str:
    """The message of `template` (named `%(name)s` placeholders) with `params` filled in."""
    return message_factory(template, **params)


class TemplateError(ValueError):
    """A script's URL template is not acceptable.

    ``message`` is plain English meant for the tenant admin who wrote the template;
    ``position`` is the 0-based index in the template source where the problem starts
    (the first character of the offending placeholder, or 0 for problems with the
    template as a whole). ``str(error)`` appends the 1-based character number, which
    is what people count in an editor: ``'Unknown call property "x"; ... (at character 12)'``.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.message = message
        self.position = position

    def __reduce__(self) -> tuple[type[TemplateError], tuple[str, int]]:
        # The default reduce would replay only the formatted string into __init__,
        # which fails; Celery and multiprocessing pickle exceptions.
        return (type(self), (self.message, self.position))

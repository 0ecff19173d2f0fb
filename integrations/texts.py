"""Texts that are written in one language and read in another.

A sync runs in Celery, with no request and no language, and stores what went wrong; an admin reads
it later in English or Dutch. A `Text` is the English sentence (it *is* a `str`, so it is stored,
compared, logged and sent to the JSON API as before) that also remembers its gettext template and
parameters, so it can be shown in the reader's language:

    Text(gettext_noop("%(what)s refused the credentials (HTTP 401)."), what="HubSpot")
    == "HubSpot refused the credentials (HTTP 401)."

`Text.translated()` gives it in the active language; in a template `{{ text }}` does that too
(Django's auto-escaping asks `__html__`), while `str(text)` stays English. Stored rows keep the
English text in their text field and `Text.to_json()` beside it; `stored_text` reads both back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.html import conditional_escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext

# The marker for makemessages; Django's own needs settings, and integrations.phones (with these
# texts) is also read without Django (bench/normalize_bench.py).
from django.utils.translation.trans_null import gettext_noop

# A parameter is a plain value (a CRM's name, an HTTP status) or another Text ("The CRM").
Param = str | int | float


class Text(str):
    """An English sentence from the gettext `template` (named `%(name)s` placeholders) and `params`.

    The value is `template % params` untranslated. Parameters may be Texts themselves; they are
    translated with the sentence. Raises KeyError/ValueError like `%` when the template and the
    parameters do not fit.
    """

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Text:
        # Anything else (an exception, a path) is kept as its text, so the Text can be stored as JSON.
        params = {k: v if isinstance(v, str | int | float) else str(v) for k, v in params.items()}
        english = template % {k: str(v) for k, v in params.items()} if params else template
        text = super().__new__(cls, english)
        text.template = template
        text.params = params
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # Celery pickles exceptions carrying a Text; the default would lose template and params.
        return (_rebuild, (self.template, self.params))

    def translated(self) -> str:
        """The sentence in the active language (English when the catalog has no translation)."""
        if not self.params:
            return gettext(self.template)
        values = {k: v.translated() if isinstance(v, Text) else v for k, v in self.params.items()}
        try:
            return gettext(self.template) % values
        except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder
            return str(self)

    def __html__(self) -> SafeString:
        return conditional_escape(self.translated())

    def to_json(self) -> dict[str, Any]:
        """`{"template": str, "params": {name: value or a nested Text's to_json()}}`."""
        return {
            "template": self.template,
            "params": {k: v.to_json() if isinstance(v, Text) else v for k, v in self.params.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Text:
        """The Text `to_json` gave; raises KeyError/TypeError/ValueError for anything else."""
        params = {
            k: cls.from_json(v) if isinstance(v, Mapping) else v for k, v in dict(data["params"]).items()
        }
        return cls(str(data["template"]), **params)


def _rebuild(template: str, params: dict[str, Any]) -> Text:
    return Text(template, **params)


def text_json(message: str) -> dict[str, Any] | None:
    """What to store beside the English `message`: its `to_json()` if it is a Text, else None."""
    return message.to_json() if isinstance(message, Text) else None


def stored_text(english: str, data: Mapping[str, Any] | None) -> str:
    """A stored message in the active language.

    `english` is the row's text field, `data` the `text_json` stored beside it. When `data`
    rebuilds exactly `english`, its translation; otherwise (an old row, or a text written without
    a Text) the catalog's translation of `english` as a whole, or `english` itself.
    """
    if not english:
        return ""
    if data:
        try:
            text = Text.from_json(data)
        except (KeyError, TypeError, ValueError):
            text = None
        if text is not None and str(text) == english:
            return text.translated()
    return gettext(english)


def translated(message: object) -> str:
    """`message` in the active language: a Text translated, any other value as `str()`."""
    return message.translated() if isinstance(message, Text) else str(message)


# A template-language error with where it is (`str(TemplateError)`), for translation.
AT_CHARACTER = gettext_noop("%(error)s (at character %(character)s)")


def template_error(error: Any) -> str:
    """A `scripts_engine.TemplateError` as `str(error)` says it, in the active language."""
    return Text(AT_CHARACTER, error=error.message, character=error.position + 1).translated()

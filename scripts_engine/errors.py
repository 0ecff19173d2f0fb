"""The one exception the template language raises."""

from __future__ import annotations


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

"""The script template language: ``#(Call property)`` and ``$(CRM field)`` in URL templates.

Pure Python, no Django. Parse once (:func:`parse`, or :func:`validate` when a script
is saved), render many times (:func:`render`, once per call and script)::

    template = validate("https://www.google.nl?q=#(Caller number)", record_fields=None)
    render(template, call=CallProperties(caller_number="+31201234567"), country="NL")
    # -> "https://www.google.nl?q=0201234567"
"""

from scripts_engine.errors import TemplateError
from scripts_engine.formats import PHONE_FORMATS, TIME_FORMATS, format_phone, format_time
from scripts_engine.names import CALL_PROPERTIES, CallProperty, normalize_name
from scripts_engine.parser import Literal, Placeholder, Template, parse
from scripts_engine.render import CallProperties, RenderedPart, render, render_parts
from scripts_engine.schemes import DEFAULT_ALLOWED_SCHEMES, NEVER_ALLOWED_SCHEMES
from scripts_engine.validation import validate

__all__ = [
    "CALL_PROPERTIES",
    "DEFAULT_ALLOWED_SCHEMES",
    "NEVER_ALLOWED_SCHEMES",
    "PHONE_FORMATS",
    "TIME_FORMATS",
    "CallProperties",
    "CallProperty",
    "Literal",
    "Placeholder",
    "RenderedPart",
    "Template",
    "TemplateError",
    "format_phone",
    "format_time",
    "normalize_name",
    "parse",
    "render",
    "render_parts",
    "validate",
]

"""Save-time checks of a script's URL template."""

from __future__ import annotations

from collections.abc import Collection

from scripts_engine.errors import TemplateError, gettext_noop, message
from scripts_engine.names import normalize_name
from scripts_engine.parser import Template, parse, starts_with_placeholder_opener
from scripts_engine.schemes import allowed_schemes, scheme_of

RECORD_FIELDS_NOT_ALLOWED = gettext_noop(
    "Only scripts of an integration with phone data can use CRM fields like $(DisplayName)"
)


def validate(
    source: str,
    *,
    record_fields: Collection[str] | None,
    extra_schemes: Collection[str] = (),
    url: bool = True,
) -> Template:
    """Check a template before a script is saved and return it parsed.

    ``record_fields`` are the CRM field names the script's integration provides, in
    any spelling (``["DisplayName", "Identifier", "PopUpUri", "Email"]``); ``None``
    means the script may not use record fields at all (tenant-wide scripts, and
    integrations without phone data). ``extra_schemes`` are the tenant's app schemes,
    allowed in addition to :data:`DEFAULT_ALLOWED_SCHEMES` (but never one of
    :data:`NEVER_ALLOWED_SCHEMES`).

    Raises :class:`TemplateError` for the first problem found, checked in this order:
    empty template (position 0); a template that neither begins with a placeholder
    nor with a literal ``scheme:`` (position 0); a literal scheme that is not allowed
    (position 0); every error of :func:`parse`; a record field where none may be used,
    or one the integration does not have (at the placeholder).

    With ``url=False`` (a server request's header values and body) the template is not a link:
    it may be empty and need not start with a scheme; the other checks are the same.
    """
    if not url:
        return _check_record_fields(parse(source), record_fields)
    if not source.strip():
        raise TemplateError(
            message(
                gettext_noop(
                    "The URL is empty; write a link such as https://www.google.nl?q=#(Caller number)"
                )
            ),
            0,
        )
    schemes = allowed_schemes(extra_schemes)
    if not starts_with_placeholder_opener(source):
        scheme = scheme_of(source)
        if scheme is None:
            raise TemplateError(
                message(
                    gettext_noop(
                        "The URL must start with a scheme such as https: "
                        "or with a placeholder such as $(PopUpUri)"
                    )
                ),
                0,
            )
        if scheme not in schemes:
            listed = ", ".join(sorted(schemes))
            raise TemplateError(
                message(
                    gettext_noop(
                        'Links starting with "%(scheme)s:" are not allowed; use one of: %(schemes)s'
                    ),
                    scheme=scheme,
                    schemes=listed,
                ),
                0,
            )

    return _check_record_fields(parse(source), record_fields)


def _check_record_fields(template: Template, record_fields: Collection[str] | None) -> Template:
    known: dict[str, str] = {}
    for field in record_fields or ():
        known.setdefault(normalize_name(field), field)
    for placeholder in template.placeholders:
        if placeholder.kind != "record":
            continue
        if record_fields is None:
            raise TemplateError(message(RECORD_FIELDS_NOT_ALLOWED), placeholder.start)
        if placeholder.key not in known:
            if known:
                problem = message(
                    gettext_noop('Unknown CRM field "%(name)s"; use one of: %(names)s'),
                    name=placeholder.name,
                    names=", ".join(known.values()),
                )
            else:
                problem = message(
                    gettext_noop('Unknown CRM field "%(name)s"; this integration has no CRM fields'),
                    name=placeholder.name,
                )
            raise TemplateError(problem, placeholder.start)
    return template

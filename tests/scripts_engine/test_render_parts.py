"""Plain-text rendering for request headers and bodies, and validation of templates that are no links."""

from datetime import UTC, datetime

import pytest

from scripts_engine import CallProperties, RenderedPart, TemplateError, parse, render_parts, validate

CALL = CallProperties(
    caller_name='Jan "JJ" & co\nline 2',
    caller_number="+31201234567",
    start_time=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
)


def test_it_renders_each_token_as_plain_text_with_its_source_position():
    template = parse('{"n": #(Caller name), "at": "#(Start time:epoch)", "c": $(Company)}')
    parts = render_parts(template, call=CALL, record={"company": "Acme"}, country="NL")
    assert parts == (
        RenderedPart('{"n": ', False, 0),
        RenderedPart('Jan "JJ" & co\nline 2', True, 6),
        RenderedPart(', "at": "', False, 20),
        RenderedPart("1796119200", True, 29),
        RenderedPart('", "c": ', False, 48),
        RenderedPart("Acme", True, 56),
        RenderedPart("}", False, 66),
    )


def test_it_formats_numbers_but_never_percent_encodes():
    parts = render_parts(parse("#(Caller number) #(Caller name)"), call=CALL, country="NL")
    assert "".join(p.text for p in parts) == '0201234567 Jan "JJ" & co\nline 2'


def test_a_missing_record_renders_record_fields_empty():
    assert render_parts(parse("x$(Email)y"), call=CALL)[1].text == ""


def test_validating_a_non_link_needs_no_scheme_and_may_be_empty():
    assert validate("", record_fields=None, url=False).tokens == ()
    assert (
        validate('{"n": #(Caller name)}', record_fields=None, url=False).placeholders[0].key == "callername"
    )


@pytest.mark.parametrize(
    ("source", "record_fields", "words"),
    [
        ("#(Nope)", None, "Unknown call property"),
        ("$(DisplayName)", None, "CRM fields"),
        ("$(Nope)", ["DisplayName"], 'Unknown CRM field "Nope"'),
        ("#(Caller name", None, "no closing bracket"),
    ],
)
def test_validating_a_non_link_still_checks_placeholders(source, record_fields, words):
    with pytest.raises(TemplateError) as caught:
        validate(source, record_fields=record_fields, url=False)
    assert words in caught.value.message

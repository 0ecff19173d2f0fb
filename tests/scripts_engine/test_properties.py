"""Property-based tests: what must hold for any value a PBX or a CRM can send."""

import re
from datetime import UTC, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from scripts_engine import (
    DEFAULT_ALLOWED_SCHEMES,
    CallProperties,
    Literal,
    TemplateError,
    format_phone,
    parse,
    render,
    validate,
)

# No example database: nothing is written into the repository, and every run is fresh.
fuzz = settings(database=None, deadline=None, max_examples=100)

# Characters that mean something in URLs and in our own syntax, mixed into arbitrary unicode.
URL_TROUBLE = "&=/?#:;%+ \t\r\n\x00$()[]@!'*,\"<>\\^`{|}~é中😀"
# Lone surrogates are left out: they have no UTF-8 form to round-trip (render turns them into "?").
values = st.text(alphabet=st.characters(exclude_categories=["Cs"]) | st.sampled_from(URL_TROUBLE))
dangerous_urls = st.sampled_from(
    [
        "javascript:alert(1)",
        "JaVaScRiPt:x",
        "java\nscript:x",
        " javascript:x",
        "data:,x",
        "vbscript:x",
        "file:/x",
    ]
)
urlish = st.one_of(
    values,
    st.builds(
        lambda scheme, rest: scheme + rest, st.sampled_from(["https:", "http://", "tel:", "x:"]), values
    ),
    st.builds(lambda bad, rest: bad + rest, dangerous_urls, values),
)
start_times = st.none() | st.datetimes(
    timezones=st.just(UTC)
    | st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-14), max_value=timedelta(hours=14)))
)
calls = st.builds(
    CallProperties,
    caller_name=values,
    caller_number=values,
    device_name=values,
    device_number=values,
    ddi_name=values,
    ddi_number=values,
    start_time=start_times,
    call_id=values,
    direction=values,
)
records = st.fixed_dictionaries(
    {"DisplayName": values, "Identifier": values, "PopUpUri": urlish, "Email": values}
)
countries = st.sampled_from(["NL", "nl", "GB", "US", "DE", "", "XX"])

TEXT_QUERY = (
    "https://example.com/search?cn=#(Caller name)&dn=#(Device name)&in=#(Ddi name)&id=#(Call id)"
    "&dir=#(Direction)&name=$(DisplayName)&ident=$(Identifier)&url=$(PopUpUri)&mail=$(Email)&x=1"
)
ALL_PLACEHOLDERS = (
    TEXT_QUERY + "&c=#(Caller number)&d=#(Device number:e164)&i=#(Ddi number:international)"
    "&n=#(Caller number:national)&g=#(Caller number:digits)&t=#(Start time)&e=#(Start time:epoch)"
    "&s=#(Start time:%H:%M %d/%m/%Y)"
)
ALL_TEMPLATE = parse(ALL_PLACEHOLDERS)
# Mostly the characters of placeholders, encoded or not, so that near-misses are common.
TEMPLATE_CHARACTERS = st.sampled_from("#$%()23489:aAcdeilmnrtu _ECN")
PATH_TEMPLATE = parse("https://example.com/p/$(Identifier)/view")
# What a rendered link may contain: RFC 3986 reserved and unreserved characters and "%".
URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")


def outcome(function, *args, **kwargs):
    """Call ``function``; return ``(result, None)`` or ``(None, TemplateError)``; anything else propagates."""
    try:
        return function(*args, **kwargs), None
    except TemplateError as error:
        return None, error


@fuzz
@given(call=calls, record=records, country=countries)
def test_the_rendered_scheme_is_always_the_templates_scheme(call, record, country):
    link = render(ALL_TEMPLATE, call=call, record=record, country=country)

    assert link is not None
    assert urlsplit(link).scheme == "https"
    assert urlsplit(link).netloc == "example.com"
    assert URL_CHARACTERS.fullmatch(link)


@fuzz
@given(call=calls, record=records, country=countries)
def test_no_value_escapes_its_query_parameter(call, record, country):
    link = render(ALL_TEMPLATE, call=call, record=record, country=country)
    assert link is not None

    query = parse_qs(urlsplit(link).query, keep_blank_values=True, strict_parsing=True)

    assert set(query) == {
        *("cn", "dn", "in", "id", "dir", "name", "ident", "url", "mail", "x"),
        *("c", "d", "i", "n", "g", "t", "e", "s"),
    }
    assert all(len(found) == 1 for found in query.values())
    assert query["x"] == ["1"]
    assert query["cn"] == [call.caller_name]
    assert query["dn"] == [call.device_name]
    assert query["in"] == [call.ddi_name]
    assert query["id"] == [call.call_id]
    assert query["dir"] == [call.direction]
    assert query["name"] == [record["DisplayName"]]
    assert query["ident"] == [record["Identifier"]]
    assert query["url"] == [record["PopUpUri"]]
    assert query["mail"] == [record["Email"]]


@fuzz
@given(name=values)
def test_the_manuals_google_search_gets_exactly_the_value(name):
    link = render(
        parse("https://example.com/search?q=#(Caller name)&x=1"), call=CallProperties(caller_name=name)
    )

    assert link is not None
    assert parse_qs(urlsplit(link).query, keep_blank_values=True) == {"q": [name], "x": ["1"]}


@fuzz
@given(identifier=values)
def test_no_value_escapes_its_path_segment(identifier):
    link = render(PATH_TEMPLATE, call=CallProperties(), record={"Identifier": identifier})

    assert link is not None
    parts = urlsplit(link)
    segments = parts.path.split("/")
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == ("https", "example.com", "", "")
    assert len(segments) == 4
    assert segments[0:2] == ["", "p"]
    assert segments[3] == "view"
    assert unquote(segments[2], errors="strict") == identifier


@fuzz
@given(source=st.text() | st.text(alphabet=TEMPLATE_CHARACTERS))
def test_parse_raises_nothing_but_template_errors_pointing_into_the_source(source):
    template, error = outcome(parse, source)

    if error is not None:
        assert 0 <= error.position < len(source)
        return
    rebuilt = "".join(
        token.text if isinstance(token, Literal) else source[token.start : token.end]
        for token in template.tokens
    )
    assert rebuilt == source


@fuzz
@given(
    source=st.text() | st.text(alphabet=TEMPLATE_CHARACTERS),
    extra=st.lists(values),
)
def test_validate_raises_nothing_but_template_errors(source, extra):
    _, error = outcome(validate, source, record_fields=["DisplayName"], extra_schemes=extra)

    if error is not None:
        assert 0 <= error.position <= max(len(source) - 1, 0)


@fuzz
@given(
    start=st.sampled_from(["$(PopUpUri)", "#(Caller name)", "%24%28PopUpUri%29"]),
    rest=st.sampled_from(["", "?x=1", "/#(Caller number)", "&q=$(Identifier)"]),
    call=calls,
    record=records,
    extra=st.lists(st.sampled_from(["myapp", "javascript", "X-App:"]), max_size=2),
)
def test_a_leading_placeholder_yields_no_link_or_one_with_an_allowed_scheme(start, rest, call, record, extra):
    link = render(parse(start + rest), call=call, record=record, country="NL", extra_schemes=extra)

    if link is not None:
        scheme = link.split(":", 1)[0]
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme)
        allowed = (DEFAULT_ALLOWED_SCHEMES | {name.rstrip(":").lower() for name in extra}) - {"javascript"}
        assert scheme.lower() in allowed
        assert URL_CHARACTERS.fullmatch(link)


@fuzz
@given(call=calls, record=records, country=countries)
def test_rendering_is_deterministic(call, record, country):
    first = render(ALL_TEMPLATE, call=call, record=record, country=country)

    assert render(ALL_TEMPLATE, call=call, record=dict(reversed(record.items())), country=country) == first


@fuzz
@given(
    raw=values, fmt=st.sampled_from([None, "e164", "international", "national", "digits"]), country=countries
)
def test_format_phone_never_raises_and_its_compact_formats_hold_no_whitespace(raw, fmt, country):
    formatted = format_phone(raw, fmt, country)

    assert isinstance(formatted, str)
    if fmt in (None, "e164", "digits"):
        assert not any(ch.isspace() for ch in formatted)

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from scripts_engine import CallProperties, parse, render, validate

MANUAL_MAILTO = (
    "mailto://?Subject=Callback%20request&Body=Dear%20colleague%2C%0A%0APlease%20call%20to%3A%0A%0A"
    "Name%3A%20%24%28DisplayName%29%0AAccount%20number%3A%20%24%28Identifier%29%0APhone%3A%20"
    "%23%28Callernumber%29%0ADirect%20CRM%20link%20%24%28PopUpUri%29%0A%0AKind%20regards%2C%0A%0A"
    "Name%20of%20sender%0A%0A"
)
RECORD = {"DisplayName": "Jan Jansen", "Identifier": "ACC-42", "PopUpUri": "https://crm.example.com/c/42"}
FIELDS = ["DisplayName", "Identifier", "PopUpUri", "Email", "Company"]
START = datetime(2024, 5, 1, 14, 3, 9, tzinfo=timezone(timedelta(hours=2)))
CALL = CallProperties(
    caller_name="Jan Jansen",
    caller_number="020 123 4567",
    device_name="Reception",
    device_number="201",
    ddi_name="Sales",
    ddi_number="+31 20 765 4321",
    start_time=START,
    call_id="c-1",
    direction="inbound",
)


def render_source(source, call=CALL, record=None, **kwargs):
    return render(parse(source), call=call, record=record, country="NL", **kwargs)


@pytest.mark.parametrize("caller_number", ["020 123 4567", "+31201234567"])
def test_it_renders_the_manuals_google_example(caller_number):
    template = validate("https://www.google.nl?q=#(Caller number)", record_fields=None)

    link = render(template, call=CallProperties(caller_number=caller_number), country="NL")

    assert link == "https://www.google.nl?q=0201234567"


def test_it_renders_the_manuals_mailto_callback_example():
    template = validate(MANUAL_MAILTO, record_fields=FIELDS)

    link = render(template, call=CALL, record=RECORD, country="NL")

    assert link is not None
    assert link.startswith("mailto://?Subject=Callback%20request&Body=Dear%20colleague%2C")
    assert "Name%3A%20Jan%20Jansen%0A" in link
    assert "Account%20number%3A%20ACC-42%0A" in link
    assert "Phone%3A%200201234567%0A" in link
    assert "Direct%20CRM%20link%20https%3A%2F%2Fcrm.example.com%2Fc%2F42%0A" in link
    assert "%24%28" not in link
    assert "%23%28" not in link


def test_the_rendered_mailto_body_reads_as_intended():
    link = render(validate(MANUAL_MAILTO, record_fields=FIELDS), call=CALL, record=RECORD, country="NL")
    assert link is not None

    query = parse_qs(urlsplit(link).query)

    assert query["Subject"] == ["Callback request"]
    assert query["Body"] == [
        "Dear colleague,\n\nPlease call to:\n\nName: Jan Jansen\nAccount number: ACC-42\n"
        "Phone: 0201234567\nDirect CRM link https://crm.example.com/c/42\n\nKind regards,\n\n"
        "Name of sender\n\n"
    ]
    assert unquote(link.split("Body=", 1)[1]) == query["Body"][0]


def test_a_popupuri_alone_renders_the_url_itself():
    template = validate("$(PopUpUri)", record_fields=FIELDS)

    assert render(template, call=CALL, record=RECORD) == "https://crm.example.com/c/42"


def test_a_url_at_the_start_keeps_its_reserved_characters_and_escapes_only_what_urls_cannot_hold():
    record = {"PopUpUri": 'https://crm.example.com/c/42?a=1&b=two words&c=%2F"<é>#frag'}

    link = render_source("$(PopUpUri)", record=record)

    assert link == "https://crm.example.com/c/42?a=1&b=two%20words&c=%2F%22%3C%C3%A9%3E#frag"


def test_text_after_a_leading_placeholder_is_kept():
    link = render_source("$(PopUpUri)?caller=#(Caller number:e164)", record=RECORD)

    assert link == "https://crm.example.com/c/42?caller=%2B31201234567"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "\tjavascript:alert(1)",
        "java\nscript:alert(1)",
        "java\tscript:alert(1)",
        "\x00javascript:alert(1)",
        "javascript%3Aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "/relative/path",
        "//evil.example.com/",
        "crm.example.com/c/42",
        " https://crm.example.com/c/42",
        "",
    ],
)
def test_a_leading_placeholder_never_produces_a_link_with_a_disallowed_or_missing_scheme(url):
    assert render_source("$(PopUpUri)", record={"PopUpUri": url}) is None


def test_a_missing_popupuri_renders_no_link():
    assert render_source("$(PopUpUri)", record={}) is None
    assert render_source("$(PopUpUri)") is None


@pytest.mark.parametrize(
    "url", ["HTTPS://crm.example.com/", "mailto:a@example.com", "tel:+31201234567", "sips:a@example.com"]
)
def test_allowed_schemes_match_ignoring_case(url):
    assert render_source("$(PopUpUri)", record={"PopUpUri": url}) == url


@pytest.mark.parametrize("extra", [["myapp"], ["MyApp:"], ("myapp",), frozenset({"MYAPP"})])
def test_a_tenants_app_scheme_is_allowed_only_when_passed(extra):
    source = "myapp://open?id=$(Identifier)"

    assert render_source(source, record=RECORD) is None
    assert render_source(source, record=RECORD, extra_schemes=extra) == "myapp://open?id=ACC-42"


@pytest.mark.parametrize("scheme", ["javascript", "data", "vbscript", "file"])
def test_dangerous_schemes_stay_refused_even_when_a_tenant_adds_them(scheme):
    link = render_source("$(PopUpUri)", record={"PopUpUri": f"{scheme}:x"}, extra_schemes=[scheme])

    assert link is None


def test_an_unvalidated_template_without_scheme_renders_no_link():
    assert render_source("www.google.nl?q=#(Caller number)") is None


@pytest.mark.parametrize(
    ("placeholder", "expected"),
    [
        ("#(Caller number)", "0201234567"),
        ("#(Caller number:e164)", "%2B31201234567"),
        ("#(Caller number:international)", "%2B31%2020%20123%204567"),
        ("#(Caller number:national)", "020%20123%204567"),
        ("#(Caller number:digits)", "31201234567"),
        ("#(Ddi number)", "0207654321"),
        ("#(Device number)", "201"),
        ("#(Device number:e164)", "201"),
        ("#(Start time)", "2024-05-01T14%3A03%3A09%2B02%3A00"),
        ("#(Start time:iso)", "2024-05-01T14%3A03%3A09%2B02%3A00"),
        ("#(Start time:epoch)", "1714564989"),
        ("#(Start time:%H:%M)", "14%3A03"),
        ("#(Start time:%d/%m/%Y)", "01%2F05%2F2024"),
        ("#(Caller name)", "Jan%20Jansen"),
        ("#(Device name)", "Reception"),
        ("#(Ddi name)", "Sales"),
        ("#(Call id)", "c-1"),
        ("#(Direction)", "inbound"),
    ],
)
def test_it_renders_every_call_property_and_format_percent_encoded(placeholder, expected):
    assert render_source(f"https://x.example/?v={placeholder}") == f"https://x.example/?v={expected}"


def test_it_renders_phone_numbers_of_other_countries_in_e164():
    link = render_source(
        "https://x.example/?v=#(Caller number)", call=CallProperties(caller_number="+442079460958")
    )

    assert link == "https://x.example/?v=%2B442079460958"


def test_it_percent_encodes_every_reserved_character_of_a_value():
    call = CallProperties(caller_name="Jan & Piet/=?#:;+,@$!*'()[]%~-._ é\n")

    link = render_source("https://x.example/?v=#(Caller name)&w=1", call=call)

    assert link == (
        "https://x.example/?v=Jan%20%26%20Piet%2F%3D%3F%23%3A%3B%2B%2C%40%24%21%2A%27%28%29%5B%5D%25~-._"
        "%20%C3%A9%0A&w=1"
    )


def test_it_ignores_placeholders_in_values():
    call = CallProperties(caller_name="#(Caller number) $(DisplayName)", caller_number="+31201234567")

    link = render_source("https://x.example/?v=#(Caller name)", call=call, record=RECORD)

    assert link == "https://x.example/?v=%23%28Caller%20number%29%20%24%28DisplayName%29"


def test_a_url_in_the_middle_of_a_template_is_encoded_as_a_value():
    link = render_source("https://x.example/?back=$(PopUpUri)", record=RECORD)

    assert link == "https://x.example/?back=https%3A%2F%2Fcrm.example.com%2Fc%2F42"


def test_missing_values_render_empty():
    template = "https://x.example/?a=#(Caller name)&b=#(Caller number)&c=#(Start time)&d=$(Email)"

    assert render_source(template, call=CallProperties()) == "https://x.example/?a=&b=&c=&d="


@pytest.mark.parametrize("key", ["DisplayName", "display_name", "Display Name", "DISPLAYNAME", "displayname"])
def test_it_finds_record_fields_in_any_spelling(key):
    link = render_source("https://x.example/?n=$(Display_Name)", record={key: "Jan"})

    assert link == "https://x.example/?n=Jan"


def test_record_values_that_are_not_strings_still_render():
    link = render_source("https://x.example/?a=$(Id)&b=$(Missing)", record={"Id": 42, "Missing": None})

    assert link == "https://x.example/?a=42&b="


def test_it_renders_percent_encoded_placeholders():
    link = render_source(
        "https://x.example/?q=%23%28Caller%20number%3Ae164%29&n=%24%28display%5Fname%29", record=RECORD
    )

    assert link == "https://x.example/?q=%2B31201234567&n=Jan%20Jansen"


def test_it_uses_the_tenants_country_for_the_default_phone_format():
    template = parse("https://x.example/?q=#(Caller number)")
    call = CallProperties(caller_number="+31201234567")

    assert render(template, call=call, country="NL") == "https://x.example/?q=0201234567"
    assert render(template, call=call, country="BE") == "https://x.example/?q=%2B31201234567"


def test_a_template_with_a_literal_start_renders_its_scheme_unchanged():
    link = render_source("tel:#(Caller number:e164)")

    assert link == "tel:+31201234567"


def test_a_lone_surrogate_from_json_renders_as_a_replacement_question_mark_instead_of_raising():
    call = CallProperties(caller_name="a\ud800b")

    assert render_source("https://x.example/?v=#(Caller name)", call=call) == "https://x.example/?v=a%3Fb"
    assert (
        render_source("$(PopUpUri)", record={"PopUpUri": "https://x.example/\udfff"}) == "https://x.example/?"
    )


def test_dial_links_keep_the_plus_of_a_global_number():
    call = CallProperties(caller_number="020 123 4567", caller_name="A+B")

    assert render(parse("tel:#(Caller number:e164)"), call=call, country="NL") == "tel:+31201234567"
    assert render(parse("sip:#(Caller number:e164)@pbx.example"), call=call, country="NL") == (
        "sip:+31201234567@pbx.example"
    )
    # Only phone numbers keep it, and only in dial links: in a query "+" would read as a space.
    assert render(parse("tel:#(Caller number:e164);x=#(Caller name)"), call=call, country="NL") == (
        "tel:+31201234567;x=A%2BB"
    )
    assert render(parse("https://x.example/?q=#(Caller number:e164)"), call=call, country="NL") == (
        "https://x.example/?q=%2B31201234567"
    )

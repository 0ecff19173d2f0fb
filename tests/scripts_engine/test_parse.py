import pickle

import pytest

from scripts_engine import CALL_PROPERTIES, Literal, Placeholder, TemplateError, normalize_name, parse


def test_it_splits_a_template_into_literals_and_placeholders():
    template = parse("https://www.google.nl?q=#(Caller number)&n=$(DisplayName)")

    assert template.tokens == (
        Literal("https://www.google.nl?q="),
        Placeholder("call", "callernumber", "Caller number", None, 24, 40),
        Literal("&n="),
        Placeholder("record", "displayname", "DisplayName", None, 43, 57),
    )


def test_placeholder_spans_point_back_into_the_source():
    source = "https://x?a=#(Caller number:e164)&b=%24%28Email%29"
    spans = [source[p.start : p.end] for p in parse(source).placeholders]

    assert spans == ["#(Caller number:e164)", "%24%28Email%29"]


def test_an_empty_template_has_no_tokens():
    template = parse("")

    assert template.tokens == ()
    assert not template.begins_with_placeholder


def test_a_template_without_placeholders_is_one_literal():
    assert parse("https://example.com/").tokens == (Literal("https://example.com/"),)


@pytest.mark.parametrize(
    "source",
    [
        "https://example.com/a#fragment",
        "https://example.com/price$5",
        "https://en.wikipedia.org/wiki/Foo_(bar)",
        "https://example.com/#x(y)",
        "https://example.com/?a=%23%20(",
        "https://example.com/?a=%2523%2528b%2529",
    ],
)
def test_it_leaves_lone_hashes_dollars_and_brackets_as_text(source):
    assert parse(source).tokens == (Literal(source),)


@pytest.mark.parametrize(
    "written",
    [
        "Caller number",
        "Callernumber",
        "caller_number",
        "CALLER NUMBER",
        "callerNumber",
        " Caller  Number ",
        "Caller_ number",
        "CaLLeR_NuMbEr",
    ],
)
def test_it_matches_call_property_names_ignoring_case_spaces_and_underscores(written):
    (placeholder,) = parse(f"https://x?q=#({written})").placeholders

    assert placeholder.key == "callernumber"
    assert placeholder.name == written


@pytest.mark.parametrize("prop", CALL_PROPERTIES, ids=lambda prop: prop.name)
def test_it_knows_every_call_property_by_its_canonical_name(prop):
    (placeholder,) = parse(f"https://x?q=#({prop.name})").placeholders

    assert placeholder.kind == "call"
    assert placeholder.key == prop.key


def test_call_properties_describe_the_manuals_seven_plus_call_id_and_direction():
    kinds = {prop.name: (prop.kind, prop.attribute) for prop in CALL_PROPERTIES}

    assert kinds == {
        "Caller name": ("text", "caller_name"),
        "Caller number": ("phone", "caller_number"),
        "Device name": ("text", "device_name"),
        "Device number": ("phone", "device_number"),
        "Ddi name": ("text", "ddi_name"),
        "Ddi number": ("phone", "ddi_number"),
        "Start time": ("time", "start_time"),
        "Call id": ("text", "call_id"),
        "Direction": ("text", "direction"),
    }


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Caller_number ", "callernumber"),
        ("Display Name", "displayname"),
        ("POP_UP_URI", "popupuri"),
        ("", ""),
    ],
)
def test_normalize_name_drops_case_spaces_and_underscores(name, key):
    assert normalize_name(name) == key


def test_it_accepts_any_record_field_name_and_keeps_it_as_written():
    (placeholder,) = parse("https://x?q=$(display name)").placeholders

    assert placeholder == Placeholder("record", "displayname", "display name", None, 12, 27)


@pytest.mark.parametrize(
    "encoded",
    [
        "%23%28Caller%20number%29",
        "%23%28caller%5fnumber%29",
        "%23%28Callernumber)",
        "%23(Caller number)",
        "#%28Caller number%29",
        "#(Caller%20number)",
        "#(Caller number%29",
    ],
)
def test_it_finds_percent_encoded_call_placeholders(encoded):
    template = parse(f"https://x?q={encoded}&y=1")

    assert template.tokens == (
        Literal("https://x?q="),
        Placeholder("call", "callernumber", template.placeholders[0].name, None, 12, 12 + len(encoded)),
        Literal("&y=1"),
    )


def test_it_decodes_the_name_of_an_encoded_placeholder():
    (placeholder,) = parse("mailto:?body=%24%28Display%20Name%29").placeholders

    assert placeholder.name == "Display Name"
    assert placeholder.key == "displayname"


def test_it_decodes_the_format_of_an_encoded_placeholder():
    (placeholder,) = parse("https://x?t=%23%28Start%20time%3a%25H%3A%25M%29").placeholders

    assert placeholder.format == "%H:%M"


def test_it_keeps_percent_signs_of_a_strftime_pattern_in_a_plain_placeholder():
    (placeholder,) = parse("https://x?t=#(Start time:%Bd %d)").placeholders

    assert placeholder.format == "%Bd %d"


def test_it_splits_the_format_at_the_first_colon_only():
    (placeholder,) = parse("https://x?t=#(Start time:%H:%M:%S)").placeholders

    assert placeholder.name == "Start time"
    assert placeholder.format == "%H:%M:%S"


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("Caller number:e164", "e164"),
        ("Caller number:E164", "e164"),
        ("Device number: International ", "international"),
        ("Ddi number:NATIONAL", "national"),
        ("Caller number:digits", "digits"),
        ("Start time:iso", "iso"),
        ("Start time:Epoch", "epoch"),
        ("Start time:%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M"),
        ("Caller number", None),
        ("Start time", None),
    ],
)
def test_it_canonicalizes_formats(written, canonical):
    (placeholder,) = parse(f"https://x?q=#({written})").placeholders

    assert placeholder.format == canonical


def test_template_lists_its_placeholders_and_record_fields():
    template = parse("$(PopUpUri)?n=#(Caller number)&e=$(E_mail)&again=$(email)")

    assert [p.key for p in template.placeholders] == ["popupuri", "callernumber", "email", "email"]
    assert template.record_field_keys == frozenset({"popupuri", "email"})
    assert template.begins_with_placeholder


def test_a_template_with_a_literal_start_does_not_begin_with_a_placeholder():
    assert not parse("https://x?q=$(PopUpUri)").begins_with_placeholder


@pytest.mark.parametrize(
    ("source", "position", "message"),
    [
        ("#(Caller number", 0, 'This "#(" has no closing bracket ")"'),
        ("https://x?q=$(DisplayName", 12, 'This "$(" has no closing bracket ")"'),
        ("https://x?q=%23%28Caller%20number", 12, 'This "#(" has no closing bracket ")"'),
        ("https://x?q=#(Caller number&n=#(Caller name)", 12, 'This "#(" has no closing bracket ")"'),
        (
            "https://x?a=#(Caller name)&q=#()",
            29,
            "This placeholder has no name; write one like #(Caller number)",
        ),
        ("https://x?q=$()", 12, "This placeholder has no name; write one like $(DisplayName)"),
        ("https://x?q=$( _ )", 12, "This placeholder has no name; write one like $(DisplayName)"),
        ("https://x?q=#(:e164)", 12, "This placeholder has no name; write one like #(Caller number)"),
        (
            "https://x?q=#(Caler number)",
            12,
            'Unknown call property "Caler number"; use one of: Caller name, Caller number, Device name, '
            "Device number, Ddi name, Ddi number, Start time, Call id, Direction",
        ),
        (
            "https://x?q=%23%28Phone%29",
            12,
            'Unknown call property "Phone"; use one of: Caller name, Caller number, Device name, '
            "Device number, Ddi name, Ddi number, Start time, Call id, Direction",
        ),
        (
            "https://x?q=#(caller_name:upper)",
            12,
            'The call property "Caller name" takes no format; remove ":upper"',
        ),
        ("https://x?q=#(Direction:x)", 12, 'The call property "Direction" takes no format; remove ":x"'),
        (
            "https://x?q=$(DisplayName:upper)",
            12,
            'The CRM field "DisplayName" takes no format; remove ":upper"',
        ),
        (
            "https://x?q=#(Caller number:e.164)",
            12,
            'Unknown phone number format "e.164" for Caller number; use one of: e164, international, '
            "national, digits",
        ),
        ("https://x?q=#(Caller number:)", 12, 'The format after "Caller number:" is missing'),
        ("https://x?q=#(Start time: )", 12, 'The format after "Start time:" is missing'),
        (
            "https://x?q=#(Start time:unix)",
            12,
            'Unknown time format "unix" for Start time; use iso, epoch or a strftime pattern '
            "such as %Y-%m-%d %H:%M",
        ),
    ],
)
def test_it_rejects_bad_placeholders_at_their_first_character(source, position, message):
    with pytest.raises(TemplateError) as caught:
        parse(source)

    assert caught.value.message == message
    assert caught.value.position == position


def test_it_rejects_a_strftime_pattern_python_cannot_use():
    with pytest.raises(TemplateError, match="cannot be used") as caught:
        parse("https://x?q=#(Start time:%H\ud800)")

    assert caught.value.position == 12


def test_the_first_bad_placeholder_is_reported():
    with pytest.raises(TemplateError) as caught:
        parse("https://x?a=#(Nope)&b=#(Caller number")

    assert caught.value.position == 12


def test_a_template_error_counts_characters_from_one_in_its_text():
    error = TemplateError("Something is wrong", 4)

    assert str(error) == "Something is wrong (at character 5)"
    assert isinstance(error, ValueError)


def test_a_template_error_survives_pickling():
    error = pickle.loads(pickle.dumps(TemplateError("Something is wrong", 4)))  # noqa: S301

    assert (error.message, error.position, str(error)) == (
        "Something is wrong",
        4,
        "Something is wrong (at character 5)",
    )

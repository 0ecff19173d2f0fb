import pytest

from scripts_engine import DEFAULT_ALLOWED_SCHEMES, NEVER_ALLOWED_SCHEMES, Template, TemplateError, validate

FIELDS = ["DisplayName", "Identifier", "PopUpUri", "Email"]


def errors_of(source, **kwargs):
    kwargs.setdefault("record_fields", FIELDS)
    with pytest.raises(TemplateError) as caught:
        validate(source, **kwargs)
    return caught.value.message, caught.value.position


@pytest.mark.parametrize(
    "source",
    [
        "https://www.google.nl?q=#(Caller number)",
        "http://intranet/lookup?n=#(Caller number:digits)&t=#(Start time:epoch)",
        "mailto:support@example.com?subject=Call%20from%20#(Caller name)",
        "tel:#(Caller number:e164)",
        "callto:#(Caller number:e164)",
        "sip:#(Caller number:digits)@pbx.example.com",
        "SIPS:#(Caller number:digits)@pbx.example.com",
        "HTTPS://example.com/",
        "#(Caller name)",
    ],
)
def test_it_accepts_well_formed_templates_without_record_fields(source):
    template = validate(source, record_fields=None)

    assert isinstance(template, Template)
    assert template.source == source


def test_it_accepts_record_fields_the_integration_has_in_any_spelling():
    template = validate("https://crm.example.com/?id=$(identifier)&n=$(Display Name)", record_fields=FIELDS)

    assert template.record_field_keys == {"identifier", "displayname"}


def test_it_accepts_record_fields_listed_in_another_spelling():
    validate("https://x.example/?e=$(Email)", record_fields=["e_mail"])


def test_a_template_that_begins_with_a_placeholder_needs_no_literal_scheme():
    assert validate("$(PopUpUri)", record_fields=FIELDS).begins_with_placeholder
    assert validate("%24%28PopUpUri%29", record_fields=FIELDS).begins_with_placeholder


def test_a_tenants_extra_scheme_is_accepted():
    validate("myapp://open?id=$(Identifier)", record_fields=FIELDS, extra_schemes=["myapp"])


def test_the_default_schemes_are_the_web_mail_and_phone_ones():
    assert {"http", "https", "mailto", "tel", "callto", "sip", "sips"} == DEFAULT_ALLOWED_SCHEMES
    assert not DEFAULT_ALLOWED_SCHEMES & NEVER_ALLOWED_SCHEMES


ALL_SCHEMES = "callto, http, https, mailto, sip, sips, tel"
NO_SCHEME = "The URL must start with a scheme such as https: or with a placeholder such as $(PopUpUri)"


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("", "The URL is empty; write a link such as https://www.google.nl?q=#(Caller number)", 0),
        ("   ", "The URL is empty; write a link such as https://www.google.nl?q=#(Caller number)", 0),
        ("www.google.nl?q=#(Caller number)", NO_SCHEME, 0),
        (" https://www.google.nl?q=#(Caller number)", NO_SCHEME, 0),
        ("/relative?q=#(Caller number)", NO_SCHEME, 0),
        ("https#(Caller number):", NO_SCHEME, 0),
        ("1http://example.com", NO_SCHEME, 0),
        ("https%3A%2F%2Fexample.com", NO_SCHEME, 0),
        (
            "javascript:alert(#(Caller name))",
            f'Links starting with "javascript:" are not allowed; use one of: {ALL_SCHEMES}',
            0,
        ),
        (
            "JaVaScRiPt:alert(1)",
            f'Links starting with "javascript:" are not allowed; use one of: {ALL_SCHEMES}',
            0,
        ),
        ("data:text/html,hi", f'Links starting with "data:" are not allowed; use one of: {ALL_SCHEMES}', 0),
        ("vbscript:msgbox", f'Links starting with "vbscript:" are not allowed; use one of: {ALL_SCHEMES}', 0),
        ("file:///etc/passwd", f'Links starting with "file:" are not allowed; use one of: {ALL_SCHEMES}', 0),
        ("myapp://open", f'Links starting with "myapp:" are not allowed; use one of: {ALL_SCHEMES}', 0),
        ("#(Caller number", 'This "#(" has no closing bracket ")"', 0),
        ("https://x.example/?q=#(Caller number", 'This "#(" has no closing bracket ")"', 21),
        (
            "https://x.example/?q=#(Caler number)",
            'Unknown call property "Caler number"; use one of: Caller name, '
            "Caller number, Device name, Device number, Ddi name, Ddi number, Start time, Call id, Direction",
            21,
        ),
        ("https://x.example/?q=#()", "This placeholder has no name; write one like #(Caller number)", 21),
        (
            "https://x.example/?q=#(Caller name:e164)",
            'The call property "Caller name" takes no format; remove ":e164"',
            21,
        ),
        (
            "https://x.example/?q=#(Caller number:local)",
            'Unknown phone number format "local" for Caller number; '
            "use one of: e164, international, national, digits",
            21,
        ),
        (
            "https://x.example/?q=$(Company)",
            'Unknown CRM field "Company"; use one of: DisplayName, Identifier, PopUpUri, Email',
            21,
        ),
        (
            "https://x.example/?q=%24%28Company%29",
            'Unknown CRM field "Company"; use one of: DisplayName, Identifier, PopUpUri, Email',
            21,
        ),
    ],
)
def test_it_rejects_bad_templates_with_the_position_of_the_problem(source, message, position):
    assert errors_of(source) == (message, position)


def test_it_rejects_record_fields_in_scripts_that_may_not_use_them():
    message, position = errors_of(
        "https://x.example/?q=#(Caller number)&n=$(DisplayName)", record_fields=None
    )

    assert message == "Only scripts of an integration with phone data can use CRM fields like $(DisplayName)"
    assert position == 40


def test_it_rejects_a_leading_record_field_in_scripts_that_may_not_use_them():
    assert errors_of("$(PopUpUri)", record_fields=None)[1] == 0


def test_it_says_so_when_an_integration_has_no_record_fields():
    assert errors_of("https://x.example/?q=$(Email)", record_fields=[]) == (
        'Unknown CRM field "Email"; this integration has no CRM fields',
        21,
    )


def test_it_lists_each_valid_record_field_once():
    message, _ = errors_of("https://x.example/?q=$(Phone)", record_fields=["Email", "E_mail", "DisplayName"])

    assert message == 'Unknown CRM field "Phone"; use one of: Email, DisplayName'


def test_it_lists_a_tenants_extra_schemes_among_the_allowed_ones():
    message, _ = errors_of("ftp://x.example/", extra_schemes=["MyApp"])

    assert message == (
        'Links starting with "ftp:" are not allowed; '
        "use one of: callto, http, https, mailto, myapp, sip, sips, tel"
    )


@pytest.mark.parametrize("scheme", sorted(NEVER_ALLOWED_SCHEMES))
def test_dangerous_schemes_are_refused_even_when_a_tenant_adds_them(scheme):
    message, position = errors_of(f"{scheme}:x", extra_schemes=[scheme])

    assert message.startswith(f'Links starting with "{scheme}:" are not allowed')
    assert position == 0


def test_the_scheme_is_checked_before_the_placeholders():
    assert errors_of("javascript:#(Nope)")[0].startswith('Links starting with "javascript:"')

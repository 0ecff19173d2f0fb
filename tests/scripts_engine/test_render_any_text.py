"""Rendering never raises, whatever text reaches it: lone surrogates, NULs, any Unicode (issue 5).

The matching API refuses such parameters before they get here, but render is also fed CRM field
values from the phone cache and is the hot path: it must hold on its own.
"""

from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from scripts_engine import CALL_PROPERTIES, PHONE_FORMATS, CallProperties, parse, render

# Any code point, lone surrogates (category Cs) included.
any_text = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=30)

_PLACEHOLDERS = [f"#({p.name})" for p in CALL_PROPERTIES] + [
    f"#({p.name}:{fmt})" for p in CALL_PROPERTIES if p.kind == "phone" for fmt in PHONE_FORMATS
]
TEMPLATES = [
    parse(
        "https://x.example/?" + "&".join(f"v{i}={ph}" for i, ph in enumerate(_PLACEHOLDERS)) + "&r=$(Name)"
    ),
    parse("tel:#(Caller number:e164);n=#(Caller name)"),
    parse("$(PopUpUri)"),
    parse("#(Caller name)"),
]


@settings(database=None, deadline=None, max_examples=200, derandomize=True)
@given(
    texts=st.lists(any_text, min_size=8, max_size=8),
    record=st.dictionaries(any_text, any_text, max_size=4),
    popup=any_text,
)
def test_render_never_raises_and_returns_ascii_for_any_text(texts, record, popup):
    call = CallProperties(
        caller_name=texts[0],
        caller_number=texts[1],
        device_name=texts[2],
        device_number=texts[3],
        ddi_name=texts[4],
        ddi_number=texts[5],
        call_id=texts[6],
        direction=texts[7],
    )
    for template in TEMPLATES:
        link = render(
            template, call=call, record={**record, "PopUpUri": "https:" + popup, "Name": popup}, country="NL"
        )
        if link is not None:
            # Percent-encoded UTF-8 (lone surrogates as "?"): plain ASCII that decodes strictly.
            assert link.isascii()
            unquote(link, errors="strict")

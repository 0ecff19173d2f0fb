"""Presets without phone-data access: their scripts pass the call to the CRM, which finds the caller.

Nothing is synced for these; the "Add New Integration" wizard skips the notification step and
the pre-configured script is rendered for every call (`ScriptApplies.ALWAYS`).
"""

from integrations.presets import DefaultScript, Preset, ScriptApplies, SettingField, SettingKind

_NUMBER_FORMATS = (
    ("e164", "E.164, e.g. +31201234567"),
    ("national", "National, e.g. 020 123 4567"),
    ("digits", "Digits only, e.g. 31201234567"),
)

# Efecte Service Management CTI (seed 000): an HTTP GET opens ESM at
# `{host}/itsm/Frameset.do?a=cti/actions/{caller id}` (cloud) or `{host}/efecte/...` (on-premise);
# ESM matches the id against `cti.integration.callerID.attributecode` exactly, so the admin picks
# the number format their ESM data uses.
EFECTE_ESM = Preset(
    slug="efecte_esm",
    name="Efecte ESM",
    description="Efecte Service Management: opens ESM's CTI actions page; ESM finds the person.",
    settings=(
        SettingField("base_url", "ESM address", SettingKind.URL, placeholder="https://efecte.mycompany.com"),
        SettingField(
            "path",
            "Environment",
            SettingKind.CHOICE,
            default="itsm",
            choices=(("itsm", "Cloud (…/itsm/Frameset.do)"), ("efecte", "On-premise (…/efecte/Frameset.do)")),
        ),
        SettingField(
            "number_format",
            "Number format ESM stores",
            SettingKind.CHOICE,
            default="e164",
            choices=_NUMBER_FORMATS,
            help_text="ESM compares the number exactly with the person's phone attribute.",
        ),
    ),
    default_scripts=(
        DefaultScript(
            "Open in Efecte ESM",
            "{base_url}/{path}/Frameset.do?a=cti/actions/#(Caller number:{number_format})",
            ScriptApplies.ALWAYS,
            auto_open=True,
        ),
    ),
    keywords=("efecte", "matrix42", "itsm", "service management", "helpdesk"),
    docs_url="https://efecte.helpjuice.com/en_US/connectivity-and-integration-esm/computer-telephony-integration-cti",
)

# Oracle CRM On Demand CTI Developer's Guide (seed 001), CTICommand servlet, ScreenPop command:
# `{base}/OnDemand/user/CTICommand?Command=ScreenPop&Record Type=...&Record Id=...`. The Record Id
# is the one CRMOD's CTIActivityInsert web service returns to the CTI client that created the call
# activity; that client passes it to us as the call's `call_id`. No credentials travel in the URL:
# the servlet uses the agent's browser session.
ORACLE_CRM_ON_DEMAND = Preset(
    slug="oracle_crmod",
    name="Oracle CRM On Demand",
    description="Pops the call activity in Oracle CRM On Demand through its CTICommand ScreenPop servlet.",
    settings=(
        SettingField(
            "base_url",
            "CRM On Demand address",
            SettingKind.URL,
            placeholder="https://secure-ausomxabc.crmondemand.com",
        ),
        SettingField(
            "channel_type",
            "Channel type",
            SettingKind.CHOICE,
            default="Inbound%20Call",
            choices=(
                ("Inbound%20Call", "Inbound Call"),
                ("DID%2FDirect%20Call", "DID/Direct Call"),
                ("Inbound%20Transfer", "Inbound Transfer"),
            ),
        ),
    ),
    default_scripts=(
        DefaultScript(
            "Screen pop in CRM On Demand",
            "{base_url}/OnDemand/user/CTICommand?Command=ScreenPop&Record%20Type=Activity"
            "&Channel%20Type={channel_type}&Record%20Id=#(Call id)",
            ScriptApplies.ALWAYS,
            auto_open=True,
        ),
    ),
    keywords=("oracle", "crmod", "siebel", "on demand"),
    docs_url="https://docs.oracle.com/cd/G29753_01/books/OnDemCTIDev/c-CTICommand-Servlet-API.html",
)

# The manual's own example script: a web search for the caller's number.
WEB_SEARCH = Preset(
    slug="web_search",
    name="Web search",
    description="Searches the web for the caller's number, like the manual's Google example.",
    settings=(
        SettingField(
            "search_url",
            "Search engine",
            SettingKind.CHOICE,
            default="https://www.google.nl?q=",
            choices=(
                ("https://www.google.nl?q=", "Google (google.nl)"),
                ("https://www.google.com/search?q=", "Google (google.com)"),
                ("https://www.bing.com/search?q=", "Bing"),
                ("https://duckduckgo.com/?q=", "DuckDuckGo"),
            ),
        ),
    ),
    default_scripts=(DefaultScript("Search the web", "{search_url}#(Caller number)", ScriptApplies.ALWAYS),),
    keywords=("google", "bing", "duckduckgo", "search"),
)

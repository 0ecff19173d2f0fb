"""Presets without phone-data access: their scripts pass the call to the CRM, which finds the caller.

Nothing is synced for these; the "Add New Integration" wizard skips the notification step and
the pre-configured script is rendered for every call (`ScriptApplies.ALWAYS`).
"""

from django.utils.translation import gettext_noop

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
    description=gettext_noop(
        "Efecte Service Management: opens ESM's CTI actions page; ESM finds the person."
    ),
    settings=(
        SettingField(
            "base_url",
            gettext_noop("ESM address"),
            SettingKind.URL,
            placeholder="https://efecte.mycompany.com",
        ),
        SettingField(
            "path",
            gettext_noop("Environment"),
            SettingKind.CHOICE,
            default="itsm",
            choices=(
                ("itsm", gettext_noop("Cloud (…/itsm/Frameset.do)")),
                ("efecte", gettext_noop("On-premise (…/efecte/Frameset.do)")),
            ),
        ),
        SettingField(
            "number_format",
            gettext_noop("Number format ESM stores"),
            SettingKind.CHOICE,
            default="e164",
            choices=_NUMBER_FORMATS,
            help_text=gettext_noop("ESM compares the number exactly with the person's phone attribute."),
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
    category="Helpdesk",
    auth_methods=("The agent's own ESM session",),
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
    description=gettext_noop(
        "Pops the call activity in Oracle CRM On Demand through its CTICommand ScreenPop servlet."
    ),
    settings=(
        SettingField(
            "base_url",
            gettext_noop("CRM On Demand address"),
            SettingKind.URL,
            placeholder="https://secure-ausomxabc.crmondemand.com",
        ),
        SettingField(
            "channel_type",
            gettext_noop("Channel type"),
            SettingKind.CHOICE,
            default="Inbound%20Call",
            choices=(
                ("Inbound%20Call", gettext_noop("Inbound Call")),
                ("DID%2FDirect%20Call", gettext_noop("DID/Direct Call")),
                ("Inbound%20Transfer", gettext_noop("Inbound Transfer")),
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
    auth_methods=("The agent's own CRM On Demand session",),
    docs_url="https://docs.oracle.com/cd/G29753_01/books/OnDemCTIDev/c-CTICommand-Servlet-API.html",
)

# The manual's own example script: a web search for the caller's number.
WEB_SEARCH = Preset(
    slug="web_search",
    name="Web search",
    description=gettext_noop("Searches the web for the caller's number, like the manual's Google example."),
    settings=(
        SettingField(
            "search_url",
            gettext_noop("Search engine"),
            SettingKind.CHOICE,
            default="https://www.google.nl?q=",
            choices=(
                ("https://www.google.nl?q=", gettext_noop("Google (google.nl)")),
                ("https://www.google.com/search?q=", gettext_noop("Google (google.com)")),
                ("https://www.bing.com/search?q=", gettext_noop("Bing")),
                ("https://duckduckgo.com/?q=", gettext_noop("DuckDuckGo")),
            ),
        ),
    ),
    default_scripts=(DefaultScript("Search the web", "{search_url}#(Caller number)", ScriptApplies.ALWAYS),),
    keywords=("google", "bing", "duckduckgo", "search"),
    category="Screen pop",
    auth_methods=("None",),
)


# --- CRM searches: the call's number is handed to the CRM's own search page -----------------
#
# For tenants whose CRM we do not sync (no API access, or an edition without one): the agent
# lands on the CRM's search results for the caller number and picks the record there. Each
# preset asks only for the address parts its URL needs and the number format the CRM stores.


def _number_format(default: str = "e164") -> SettingField:
    return SettingField(
        "number_format",
        gettext_noop("Number format to search for"),
        SettingKind.CHOICE,
        default=default,
        choices=_NUMBER_FORMATS,
        help_text=gettext_noop("The CRM searches the text as written: pick the notation your records use."),
    )


def _search_preset(
    *,
    slug: str,
    name: str,
    description: str,
    address: SettingField,
    template: str,
    keywords: tuple[str, ...],
    docs_url: str,
    category: str = "CRM",
) -> Preset:
    """A screen-pop-only preset opening `template` (with `{setting}` parts) for every call."""
    return Preset(
        slug=slug,
        name=name,
        description=description,
        settings=(address, _number_format()),
        default_scripts=(
            DefaultScript(f"Search in {name.removesuffix(' search')}", template, ScriptApplies.ALWAYS),
        ),
        keywords=keywords,
        docs_url=docs_url,
        category=category,
        paging="",
        auth_methods=("The agent's own CRM session",),
    )


# Salesforce global search. The Classic search page takes the term in `str`; Lightning
# Experience redirects Classic URLs to its own pages (UNCONFIRMED for the search page in every
# org; the Open CTI `searchAndScreenPop()` JavaScript API is the in-Salesforce alternative).
SALESFORCE_SEARCH = _search_preset(
    slug="salesforce_search",
    name="Salesforce search",
    description="Opens Salesforce's global search for the caller number; Salesforce shows the matches.",
    address=SettingField(
        "base_url",
        gettext_noop("Salesforce address (My Domain)"),
        SettingKind.URL,
        placeholder="https://mycompany.my.salesforce.com",
    ),
    template=(
        "{base_url}/_ui/search/ui/UnifiedSearchResults?searchType=2&str=#(Caller number:{number_format})"
    ),
    keywords=("salesforce", "sfdc", "sales cloud", "service cloud", "open cti", "lightning"),
    docs_url="https://developer.salesforce.com/docs/service/api-cti/guide/sforce-api-cti-searchandscreenpop-lex.html",
)

# HubSpot's contacts index with a search query (the URL HubSpot's own calling apps open).
HUBSPOT_SEARCH = _search_preset(
    slug="hubspot_search",
    name="HubSpot search",
    description="Opens HubSpot's contact list searched for the caller number.",
    address=SettingField(
        "portal_id",
        gettext_noop("HubSpot account id (Hub ID)"),
        placeholder="1234567",
        help_text=gettext_noop("The number after /contacts/ in your HubSpot address bar."),
    ),
    template=(
        "https://app.hubspot.com/contacts/{portal_id}/objects/0-1/views/all/list"
        "?query=#(Caller number:{number_format})"
    ),
    keywords=("hubspot", "hub spot", "marketing hub", "sales hub"),
    docs_url="https://knowledge.hubspot.com/account-management/manage-multiple-hubspot-accounts",
)

# Dynamics 365 / Dataverse model-driven apps: the Unified Interface search page
# (`pagetype=search`, `searchType` 0 = relevance / Dataverse search, 1 = categorized), the page
# the Channel Integration Framework's renderSearchPage opens.
DYNAMICS_SEARCH = _search_preset(
    slug="dynamics_search",
    name="Microsoft Dynamics 365 search",
    description="Opens Dynamics 365's search for the caller number in your organization.",
    address=SettingField(
        "base_url",
        gettext_noop("Organization address"),
        SettingKind.URL,
        placeholder="https://mycompany.crm4.dynamics.com",
    ),
    template="{base_url}/main.aspx?pagetype=search&searchType=1&searchText=#(Caller number:{number_format})",
    keywords=("dynamics", "microsoft", "d365", "dataverse", "crm", "power apps"),
    docs_url="https://learn.microsoft.com/en-us/dynamics365/customer-service/channel-integration-framework/reference/microsoft-ciframework/rendersearchpage",
)

# Zendesk Support agent interface search, restricted to users.
ZENDESK_SEARCH = _search_preset(
    slug="zendesk_search",
    name="Zendesk search",
    description="Opens Zendesk Support's search for users with the caller number.",
    address=SettingField(
        "subdomain",
        gettext_noop("Zendesk subdomain"),
        placeholder="mycompany",
        help_text=gettext_noop("The part before .zendesk.com."),
    ),
    template="https://{subdomain}.zendesk.com/agent/search/1?type=user&q=#(Caller number:{number_format})",
    keywords=("zendesk", "zendesk support", "helpdesk", "tickets"),
    docs_url="https://support.zendesk.com/hc/en-us/articles/4408886879258",
    category="Helpdesk",
)

# Freshdesk agent portal search for contacts.
FRESHDESK_SEARCH = _search_preset(
    slug="freshdesk_search",
    name="Freshdesk search",
    description="Opens Freshdesk's contact search for the caller number.",
    address=SettingField(
        "domain",
        gettext_noop("Freshdesk domain"),
        placeholder="mycompany",
        help_text=gettext_noop("The part before .freshdesk.com."),
    ),
    template="https://{domain}.freshdesk.com/a/search/contacts?term=#(Caller number:{number_format})",
    keywords=("freshdesk", "freshworks", "helpdesk", "tickets"),
    docs_url="https://support.freshdesk.com/support/solutions/articles/37566-searching-for-tickets-contacts-companies-and-solutions",
    category="Helpdesk",
)

# Any CRM with a search or contact URL: the admin writes the URL with the placeholder.
CUSTOM_URL = Preset(
    slug="custom_url",
    name="Custom URL",
    description=gettext_noop(
        "Any web application: write its address with #(Caller number) where the number goes."
    ),
    settings=(
        SettingField(
            "url_template",
            gettext_noop("Address to open"),
            placeholder="https://crm.example.com/search?phone=#(Caller number:E164)",
            help_text=gettext_noop(
                "Placeholders: #(Caller number), #(Caller number:E164), #(DDI number), #(Call id)…"
            ),
        ),
    ),
    default_scripts=(DefaultScript("Open", "{url_template}", ScriptApplies.ALWAYS),),
    keywords=("custom", "url", "link", "other", "generic", "intranet", "web application"),
    category="Screen pop",
    auth_methods=("The agent's own session",),
)

"""The preset catalog: an explicit tuple, one line per preset.

Adding a CRM means writing its module under `integrations/connectors/`, its fixtures and tests,
and adding its preset here.
"""

from integrations.connectors.carddav import CARDDAV
from integrations.connectors.carddav_brands import (
    CARDDAV_FASTMAIL,
    CARDDAV_ICLOUD,
    CARDDAV_MAILBOX_ORG,
    CARDDAV_NEXTCLOUD,
    CARDDAV_SOGO,
    CARDDAV_SYNOLOGY,
)
from integrations.connectors.close import CLOSE
from integrations.connectors.copper import COPPER
from integrations.connectors.dynamics import DYNAMICS
from integrations.connectors.exact_online import EXACT_ONLINE
from integrations.connectors.freshdesk import FRESHDESK
from integrations.connectors.google_contacts import GOOGLE_CONTACTS
from integrations.connectors.hubspot import HUBSPOT
from integrations.connectors.insightly import INSIGHTLY
from integrations.connectors.ldap import LDAP
from integrations.connectors.microsoft_graph import MICROSOFT_GRAPH
from integrations.connectors.odoo import ODOO
from integrations.connectors.phonebook import PHONEBOOK_UPLOAD
from integrations.connectors.pipedrive import PIPEDRIVE
from integrations.connectors.popup_only import (
    CUSTOM_URL,
    DYNAMICS_SEARCH,
    EFECTE_ESM,
    FRESHDESK_SEARCH,
    HUBSPOT_SEARCH,
    ORACLE_CRM_ON_DEMAND,
    SALESFORCE_SEARCH,
    WEB_SEARCH,
    ZENDESK_SEARCH,
)
from integrations.connectors.rest_json import REST_JSON
from integrations.connectors.salesforce import SALESFORCE
from integrations.connectors.sugarcrm import SUGARCRM
from integrations.connectors.suitecrm import SUITECRM, SUITECRM7
from integrations.connectors.teamleader import TEAMLEADER
from integrations.connectors.zammad import ZAMMAD
from integrations.connectors.zendesk import ZENDESK
from integrations.connectors.zoho import ZOHO_CRM
from integrations.presets import Preset

PRESETS: tuple[Preset, ...] = (
    # CRMs with phone data
    HUBSPOT,
    SALESFORCE,
    PIPEDRIVE,
    ZOHO_CRM,
    DYNAMICS,
    INSIGHTLY,
    TEAMLEADER,
    ODOO,
    SUITECRM,
    SUITECRM7,
    SUGARCRM,
    COPPER,
    CLOSE,
    EXACT_ONLINE,
    # Helpdesks
    ZENDESK,
    FRESHDESK,
    ZAMMAD,
    # Address books and directories
    MICROSOFT_GRAPH,
    GOOGLE_CONTACTS,
    CARDDAV,
    CARDDAV_NEXTCLOUD,
    CARDDAV_ICLOUD,
    CARDDAV_FASTMAIL,
    CARDDAV_SOGO,
    CARDDAV_SYNOLOGY,
    CARDDAV_MAILBOX_ORG,
    LDAP,
    PHONEBOOK_UPLOAD,
    # Any JSON API, no code
    REST_JSON,
    # Screen pop only
    SALESFORCE_SEARCH,
    HUBSPOT_SEARCH,
    DYNAMICS_SEARCH,
    ZENDESK_SEARCH,
    FRESHDESK_SEARCH,
    EFECTE_ESM,
    ORACLE_CRM_ON_DEMAND,
    WEB_SEARCH,
    CUSTOM_URL,
)

_BY_SLUG = {preset.slug: preset for preset in PRESETS}
assert len(_BY_SLUG) == len(PRESETS), "preset slugs must be unique"


class UnknownPresetError(LookupError):
    """No preset with that slug is in the catalog."""


def get_preset(slug: str) -> Preset:
    """Return the preset with `slug`; raise `UnknownPresetError` if the catalog has none."""
    try:
        return _BY_SLUG[slug]
    except KeyError:
        raise UnknownPresetError(f'Unknown preset "{slug}"; known: {", ".join(_BY_SLUG)}.') from None


def find_preset(slug: str) -> Preset | None:
    """The preset with `slug`, or None: for stored integrations whose preset left the catalog."""
    return _BY_SLUG.get(slug)

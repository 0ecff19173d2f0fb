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
from integrations.connectors.hubspot import HUBSPOT
from integrations.connectors.ldap import LDAP
from integrations.connectors.phonebook import PHONEBOOK_UPLOAD
from integrations.connectors.pipedrive import PIPEDRIVE
from integrations.connectors.popup_only import EFECTE_ESM, ORACLE_CRM_ON_DEMAND, WEB_SEARCH
from integrations.connectors.rest_json import REST_JSON
from integrations.presets import Preset

PRESETS: tuple[Preset, ...] = (
    CARDDAV,
    CARDDAV_NEXTCLOUD,
    CARDDAV_ICLOUD,
    CARDDAV_FASTMAIL,
    CARDDAV_SOGO,
    CARDDAV_SYNOLOGY,
    CARDDAV_MAILBOX_ORG,
    EFECTE_ESM,
    ORACLE_CRM_ON_DEMAND,
    WEB_SEARCH,
    LDAP,
    PHONEBOOK_UPLOAD,
    REST_JSON,
    # A: HubSpot, Pipedrive, Close
    HUBSPOT,
    PIPEDRIVE,
    CLOSE,
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

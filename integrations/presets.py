"""Presets: the catalog of CRM types, declared as data.

A preset says what the "Add New Integration" wizard asks for (its settings), whether the CRM gives
access to phone data (then a connector class syncs it into the phone cache), which record types
and fields it has, which fields the call notification shows by default, and which scripts are
pre-configured (the screen pop). Connector modules declare their presets next to their code;
`integrations.registry` lists them explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from django.utils.translation import gettext_noop

from integrations.texts import Text

if TYPE_CHECKING:
    from integrations.connectors.base import Connector


def _translatable(declaration: object, *names: str) -> None:
    """Make the declaration's texts (marked with gettext_noop) `Text`s: still the English str that
    the catalog API, the search and the tests read, shown in the reader's language on a page."""
    for name in names:
        value = getattr(declaration, name)
        if value and not isinstance(value, Text):
            object.__setattr__(declaration, name, Text(value))


class SettingKind(StrEnum):
    """How a setting is entered and stored."""

    TEXT = "text"
    URL = "url"
    SECRET = "secret"  # noqa: S105 (a kind name, not a password): stored encrypted, never shown again
    CHOICE = "choice"


@dataclass(frozen=True)
class SettingField:
    """One field of a preset's CRM-configuration form.

    `name` is the key in the integration's settings (or secrets, for `SettingKind.SECRET`);
    `choices` is a tuple of (value, label) for `SettingKind.CHOICE`. `identifies_source`: a
    change of this (non-secret) setting means other records are listed (another address book,
    base URL, account, data centre), so editing it queues a full sync that replaces the phone
    cache; False for settings that change only how the same records are read (a page size).
    Secrets are credentials, never identifying: a new password keeps the cache.
    """

    name: str
    label: str
    kind: SettingKind = SettingKind.TEXT
    required: bool = True
    help_text: str = ""
    default: str = ""
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    identifies_source: bool = True

    def __post_init__(self) -> None:
        _translatable(self, "label", "help_text")
        if self.choices:
            object.__setattr__(self, "choices", tuple((value, Text(label)) for value, label in self.choices))


@dataclass(frozen=True)
class RecordField:
    """A field of a CRM record that notifications and `$(NAME)` placeholders may use."""

    name: str
    label: str

    def __post_init__(self) -> None:
        _translatable(self, "label")


class ScriptApplies(StrEnum):
    """When a script's action is offered for a call."""

    ON_MATCH = "on_match"
    ON_NO_MATCH = "on_no_match"
    ALWAYS = "always"


@dataclass(frozen=True)
class DefaultScript:
    """A script every new integration of a preset starts with.

    `template` is a URL template of `scripts_engine`; `{setting_name}` parts are replaced by the
    integration's settings when it is created (for example `{base_url}`).
    """

    name: str
    template: str
    applies: ScriptApplies = ScriptApplies.ON_MATCH
    auto_open: bool = False


# Fields every preset with phone data provides (PRODUCT.md, the template language).
STANDARD_FIELDS: tuple[RecordField, ...] = (
    RecordField("DisplayName", gettext_noop("Name")),
    RecordField("Identifier", gettext_noop("Identifier")),
    RecordField("PopUpUri", gettext_noop("Link to the record")),
)


@dataclass(frozen=True)
class Preset:
    """A CRM type of the catalog.

    - `slug`: stable id stored on integrations (lower-case, `[a-z0-9_]`).
    - `has_phone_data`: True when `connector_class` can list the CRM's phone numbers; False for
      presets that only pop (their scripts pass the call to the CRM, which finds the caller).
    - `record_types`: e.g. ("contact", "company"), in match order.
    - `fields`: the record fields beyond `STANDARD_FIELDS`.
    - `docs_url`: the API documentation the connector follows; `credentials_url`: the CRM's page
      on creating the credentials it needs; `auth_methods`, `paging`, `category` ("CRM",
      "Helpdesk", "Address book", "Directory", "Screen pop") describe it on the catalog page.
    """

    slug: str
    name: str
    description: str
    settings: tuple[SettingField, ...]
    default_scripts: tuple[DefaultScript, ...]
    connector_class: type[Connector] | None = None
    record_types: tuple[str, ...] = ()
    fields: tuple[RecordField, ...] = ()
    default_notification_fields: tuple[str, ...] = ()
    keywords: tuple[str, ...] = field(default=())
    docs_url: str = ""
    # For the catalog page (/catalog/, /api/v1/catalog): how the admin authorizes us ("API token",
    # "OAuth 2.0"), how the connector pages ("cursor (after)"), the kind of product, and the CRM's
    # own page on creating the credentials (an API token, an OAuth app).
    auth_methods: tuple[str, ...] = ()
    paging: str = ""
    category: str = "CRM"
    credentials_url: str = ""

    def __post_init__(self) -> None:
        _translatable(self, "description")

    @property
    def has_phone_data(self) -> bool:
        """True when the preset syncs phone numbers into the phone cache."""
        return self.connector_class is not None

    @property
    def all_fields(self) -> tuple[RecordField, ...]:
        """Standard fields followed by the preset's own; empty for pop-only presets."""
        if not self.has_phone_data:
            return ()
        return STANDARD_FIELDS + self.fields

    @property
    def secret_setting_names(self) -> frozenset[str]:
        """Names of the settings that are stored encrypted."""
        return frozenset(s.name for s in self.settings if s.kind == SettingKind.SECRET)

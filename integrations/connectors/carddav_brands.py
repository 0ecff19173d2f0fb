"""CardDAV presets by brand: the generic CardDAV connector with each vendor's URL pattern and a
note on where its app password is made.

Each preset reuses `CardDavConnector` and the generic preset's setting names (`url`,
`username`, `password`), so only the wizard's placeholders and help texts differ. The URL
patterns follow the vendors' documentation (each preset's `docs_url`); the connector needs the
address book's own URL, as it does no service discovery (RFC 6764).
"""

from __future__ import annotations

from dataclasses import replace

from django.utils.translation import gettext_noop

from integrations.connectors.carddav import CARDDAV
from integrations.presets import Preset, SettingField, SettingKind


def _brand(
    *,
    slug: str,
    name: str,
    description: str,
    url_placeholder: str,
    url_help: str,
    username_help: str,
    login_label: str,
    login_help: str,
    keywords: tuple[str, ...],
    docs_url: str,
) -> Preset:
    """A copy of the generic CardDAV preset with the brand's texts."""
    return replace(
        CARDDAV,
        slug=slug,
        name=name,
        description=description,
        settings=(
            SettingField(
                "url",
                gettext_noop("Address book URL"),
                SettingKind.URL,
                placeholder=url_placeholder,
                help_text=url_help,
            ),
            SettingField("username", gettext_noop("User name"), required=False, help_text=username_help),
            SettingField("password", login_label, SettingKind.SECRET, required=False, help_text=login_help),
        ),
        keywords=(*keywords, "carddav", "address book", "contacts", "app password"),
        docs_url=docs_url,
    )


CARDDAV_NEXTCLOUD = _brand(
    slug="carddav_nextcloud",
    name="Nextcloud Contacts",
    description="The contacts of a Nextcloud (or ownCloud) account over CardDAV.",
    url_placeholder="https://cloud.example.com/remote.php/dav/addressbooks/users/alice/contacts/",
    url_help=(
        "https://<your Nextcloud>/remote.php/dav/addressbooks/users/<user>/<address book>/; the "
        "Contacts app shows it under Settings > the address book's menu > Copy link."
    ),
    username_help="Your Nextcloud login name.",
    login_label="App password",
    login_help=(
        "Make one in Nextcloud under Personal settings > Security > Devices & sessions > "
        "Create new app password; your login password does not work with two-factor authentication."
    ),
    keywords=("nextcloud", "owncloud"),
    docs_url="https://docs.nextcloud.com/server/latest/admin_manual/groupware/contacts.html",
)

CARDDAV_ICLOUD = _brand(
    slug="carddav_icloud",
    name="iCloud Contacts",
    description="The contacts of an Apple iCloud account over CardDAV.",
    url_placeholder="https://contacts.icloud.com/1234567890/carddavhome/card/",
    url_help=(
        "https://contacts.icloud.com/<account number>/carddavhome/card/: the number is your "
        "account's, as a CardDAV client (e.g. DAVx5, Thunderbird) shows it after signing in."
    ),
    username_help="Your Apple ID (e-mail address).",
    login_label="App-specific password",
    login_help=(
        "Make one at appleid.apple.com > Sign-In and Security > App-Specific Passwords "
        "(two-factor authentication must be on); your Apple ID password does not work."
    ),
    keywords=("icloud", "apple", "iphone", "mac"),
    docs_url="https://support.apple.com/en-us/102654",
)

CARDDAV_FASTMAIL = _brand(
    slug="carddav_fastmail",
    name="Fastmail Contacts",
    description="The contacts of a Fastmail account over CardDAV.",
    url_placeholder="https://carddav.fastmail.com/dav/addressbooks/user/alice@example.com/Default/",
    url_help=(
        "https://carddav.fastmail.com/dav/addressbooks/user/<your e-mail address>/Default/ for the "
        "main address book."
    ),
    username_help="Your full Fastmail e-mail address.",
    login_label="App password",
    login_help=(
        "Make one in Fastmail under Settings > Privacy & Security > App passwords > New app "
        "password, with access to contacts (CardDAV)."
    ),
    keywords=("fastmail",),
    docs_url="https://github.com/pimutils/vdirsyncer/blob/main/docs/tutorials/fastmail.rst",
)

CARDDAV_SOGO = _brand(
    slug="carddav_sogo",
    name="SOGo Contacts",
    description="An address book of a SOGo groupware server over CardDAV.",
    url_placeholder="https://mail.example.com/SOGo/dav/alice@example.com/Contacts/personal/",
    url_help=(
        "https://<your server>/SOGo/dav/<user>/Contacts/personal/ for the personal address book; "
        "SOGo's web interface shows each address book's CardDAV link in its menu (Links to this "
        "address book)."
    ),
    username_help="Your SOGo login (often the e-mail address).",
    login_label="Password",
    login_help=(
        "Your SOGo (mail account) password; SOGo itself has no app passwords, but your provider "
        "may offer them for CardDAV in its account settings."
    ),
    keywords=("sogo", "inverse", "alinto", "groupware"),
    docs_url="https://www.sogo.nu/files/docs/SOGoOutlookConnectorConfigurationGuide.html",
)

CARDDAV_SYNOLOGY = _brand(
    slug="carddav_synology",
    name="Synology Contacts",
    description="An address book of the Synology Contacts package on a Synology NAS (DSM).",
    url_placeholder="https://nas.example.com:5001/carddav/alice/1a2b3c4d-address-book-id/",
    url_help=(
        "https://<your NAS>:5001/carddav/<user>/<address book id>/; Synology Contacts shows "
        "the CardDAV address under the address book's ⋮ menu. The NAS must be reachable from "
        "the Internet (this service does not reach private addresses)."
    ),
    username_help="Your DSM user name.",
    login_label="Password",
    login_help=(
        "DSM has no app passwords: use the DSM password, best of a dedicated user who may only "
        "read this address book (with 2-step verification on, such a user needs it off)."
    ),
    keywords=("synology", "dsm", "nas", "diskstation"),
    docs_url="https://www.davx5.com/tested-with/synology/",
)

CARDDAV_MAILBOX_ORG = _brand(
    slug="carddav_mailbox_org",
    name="mailbox.org Contacts",
    description="An address book of a mailbox.org account over CardDAV.",
    url_placeholder="https://dav.mailbox.org/carddav/32/",
    url_help=(
        "https://dav.mailbox.org/carddav/<address book number>/; the address book's properties "
        "in the mailbox.org web app show its CardDAV URL."
    ),
    username_help="Your mailbox.org e-mail address.",
    login_label="App password",
    login_help=(
        "Make one in the mailbox.org web app under Settings > Security > Application passwords, "
        "for CalDAV/CardDAV; with two-factor authentication on, the account password does not work."
    ),
    keywords=("mailbox.org", "mailbox", "open-xchange"),
    docs_url="https://kb.mailbox.org/en/private/addressbook-and-calendar/faqs-about-address-books-and-calendars/",
)

CARDDAV_BRANDS: tuple[Preset, ...] = (
    CARDDAV_NEXTCLOUD,
    CARDDAV_ICLOUD,
    CARDDAV_FASTMAIL,
    CARDDAV_SOGO,
    CARDDAV_SYNOLOGY,
    CARDDAV_MAILBOX_ORG,
)

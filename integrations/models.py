"""Integrations, their scripts, and the phone cache.

The phone cache is versioned per integration: a sync writes a new `generation` of rows while
lookups keep reading the integration's `cache_generation`; a successful sync switches the pointer
and drops the old rows in one transaction, so nobody ever sees a half-written cache. A sync that
would shrink the cache too far is held instead (`held_generation`) until the admin decides.
Each run is recorded as a `SyncRun` (the overview's sync history).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy

from integrations.fields import EncryptedJSONField, EncryptedTextField
from integrations.presets import ScriptApplies
from integrations.texts import stored_text
from tenants.models import Tenant, validate_country


class SyncState(models.TextChoices):
    """Where an integration's phone-cache sync stands."""

    IDLE = "idle", gettext_lazy("Idle")
    QUEUED = "queued", gettext_lazy("Queued")
    RUNNING = "running", gettext_lazy("Running")


class LookupMode(models.TextChoices):
    """How calls are matched against an integration: its synced phone cache, or the CRM live."""

    CACHED = "cached", gettext_lazy("Phone cache (synced nightly)")
    LIVE = "live", gettext_lazy("Live lookup (asks the CRM on each call)")


class MultipleMatches(models.TextChoices):
    """What the PBX gets when one integration has several records for the caller's number."""

    ALL = "all", gettext_lazy("All of them")
    FIRST = "first", gettext_lazy("Only the first (with the count of the others)")
    CHOOSE = "choose", gettext_lazy("None: a list the agent chooses from")


class Integration(models.Model):
    """One tenant's configured use of a preset.

    `settings` holds the preset's plain settings, `secrets` its secret ones (encrypted at rest,
    django-fernet-encrypted-fields). `notification_fields` is the ordered list of record field
    names the call notification shows.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="integrations")
    preset = models.CharField(max_length=64)
    name = models.CharField(max_length=100)
    settings = models.JSONField(default=dict, blank=True)
    secrets = EncryptedJSONField(null=True, blank=True)
    notification_fields = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(
        default=0, help_text=gettext_lazy("Match order among the tenant's integrations.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lookup_mode = models.CharField(
        max_length=8,
        choices=LookupMode.choices,
        default=LookupMode.CACHED,
        help_text=gettext_lazy("Live: each call asks the CRM (with a timeout and a short per-number cache)."),
    )
    multiple_matches = models.CharField(
        max_length=8,
        choices=MultipleMatches.choices,
        default=MultipleMatches.ALL,
        help_text=gettext_lazy(
            "What the PBX gets when this CRM has several records for the caller's number."
        ),
    )

    # Phone-cache status, shown on the integration overview.
    cache_generation = models.PositiveIntegerField(default=0)
    cached_numbers = models.PositiveIntegerField(default=0)
    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.IDLE)
    sync_started_at = models.DateTimeField(null=True, blank=True)
    sync_progress = models.PositiveIntegerField(
        default=0, help_text=gettext_lazy("Records read so far by the running sync.")
    )
    last_sync_at = models.DateTimeField(
        null=True, blank=True, help_text=gettext_lazy("End of the last successful sync.")
    )
    last_sync_skipped = models.PositiveIntegerField(
        default=0, help_text=gettext_lazy("Bad records skipped by the last sync.")
    )
    last_error = models.TextField(blank=True)
    # `last_error` as a translatable `integrations.texts.Text` (template and parameters), or null.
    last_error_text = models.JSONField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)

    # The running sync's ownership of the lock: its random run token and its last sign of life.
    # Every write a sync makes when it ends is conditional on still holding the token.
    sync_run_token = models.CharField(max_length=64, blank=True)
    sync_heartbeat_at = models.DateTimeField(null=True, blank=True)
    sync_trigger = models.CharField(
        max_length=16, blank=True, help_text=gettext_lazy("Why the queued or running sync was started.")
    )
    generation_counter = models.PositiveIntegerField(
        default=0,
        help_text=gettext_lazy("Highest cache generation ever given to a sync run of this integration."),
    )

    # A held sync: its rows (generation `held_generation`) wait for the admin to accept them.
    held_generation = models.PositiveIntegerField(null=True, blank=True)
    held_numbers = models.PositiveIntegerField(default=0)
    held_records = models.PositiveIntegerField(default=0)
    held_skipped = models.PositiveIntegerField(default=0)
    held_at = models.DateTimeField(null=True, blank=True)
    held_message = models.TextField(blank=True)

    # Start times of the last successful full and incremental syncs: an incremental sync asks the
    # CRM for what changed since the later of the two (see `integrations.sync`).
    last_full_sync_at = models.DateTimeField(
        null=True, blank=True, help_text=gettext_lazy("Start of the last successful full sync.")
    )
    last_incremental_sync_at = models.DateTimeField(
        null=True, blank=True, help_text=gettext_lazy("Start of the last successful incremental sync.")
    )
    # OAuth 2.0 (integrations/oauth.py): the stored token's version (compare-and-swap on refresh)
    # and whether the CRM no longer accepts the app's authorization (the admin must reconnect).
    oauth_token_version = models.PositiveIntegerField(default=0)
    oauth_reconnect_required = models.BooleanField(default=False)

    # How the CRM's numbers are read and matched (integrations/phones.py).
    region = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_country],
        help_text=gettext_lazy(
            "ISO 3166 country for this CRM's numbers written without a country code; "
            "empty: the tenant's country."
        ),
    )
    fallback_to_main_number = models.BooleanField(
        default=False,
        help_text=gettext_lazy(
            "A caller whose full number is in no CRM matches the company's main number "
            "(the caller's number without its last digits, the extension)."
        ),
    )

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.UniqueConstraint(fields=("tenant", "name"), name="integration_name_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.preset})"

    @property
    def last_error_shown(self) -> str:
        """`last_error` in the reader's language (see `integrations.texts.stored_text`)."""
        return stored_text(self.last_error, self.last_error_text)

    @property
    def held_message_shown(self) -> str:
        """`held_message` in the reader's language (a held sync stores it as its last error too)."""
        return stored_text(self.held_message, self.last_error_text)

    def get_additional_data(self) -> dict[str, int | str | None]:
        """The audit log's context of an entry about this integration (configurator/audit.py)."""
        return {"tenant_id": self.tenant_id, "name": self.name}

    @property
    def number_region(self) -> str:
        """The ISO 3166 region this CRM's national numbers are read in: `region`, else the tenant's."""
        return self.region or self.tenant.country


class SyncRunStatus(models.TextChoices):
    """How one sync run ended (or that it still runs)."""

    RUNNING = "running", gettext_lazy("Running")
    OK = "ok", gettext_lazy("OK")
    FAILED = "failed", gettext_lazy("Failed")
    HELD = "held", gettext_lazy("Held")
    ACCEPTED = "accepted", gettext_lazy("Held, accepted")
    REJECTED = "rejected", gettext_lazy("Held, old cache kept")


class SyncTrigger(models.TextChoices):
    """What started a sync run."""

    NIGHTLY = "nightly", gettext_lazy("Nightly")
    RETRY = "retry", gettext_lazy("Retry")
    MANUAL = "manual", gettext_lazy("Sync now")
    CLI = "cli", gettext_lazy("Command line")
    UPLOAD = "upload", gettext_lazy("Phone book upload")
    HOURLY = "hourly", gettext_lazy("Hourly")


class SyncMode(models.TextChoices):
    """A full sync reads every record into a new cache generation; an incremental one applies the
    records changed (and deleted) since the last successful sync to the live generation."""

    FULL = "full", gettext_lazy("Full")
    INCREMENTAL = "incremental", gettext_lazy("Incremental")


class SyncRun(models.Model):
    """One sync of one integration, kept `SYNC_HISTORY_DAYS` for the overview's history table.

    `records` read, `numbers` cached (or held), `skipped` bad records plus unreadable numbers;
    `generation` the cache generation the run wrote; `run_token` its lock token; `mode` full or
    incremental (an incremental run's `records` are the changed records, `numbers` the numbers it
    wrote; it writes into the live generation).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=SyncRunStatus.choices, default=SyncRunStatus.RUNNING)
    trigger = models.CharField(max_length=16, choices=SyncTrigger.choices, default=SyncTrigger.MANUAL)
    mode = models.CharField(max_length=16, choices=SyncMode.choices, default=SyncMode.FULL)
    records = models.PositiveIntegerField(default=0)
    numbers = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # `error` as a translatable `integrations.texts.Text` (template and parameters), or null.
    error_text = models.JSONField(null=True, blank=True)
    run_token = models.CharField(max_length=64)
    generation = models.PositiveIntegerField()

    class Meta:
        ordering = ("-started_at", "-id")
        indexes = [
            models.Index(fields=("integration", "-started_at"), name="sync_run_history"),
            models.Index(fields=("started_at",), name="sync_run_prune"),
        ]

    def __str__(self) -> str:
        return f"{self.integration_id} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def error_shown(self) -> str:
        """`error` in the reader's language (see `integrations.texts.stored_text`)."""
        return stored_text(self.error, self.error_text)


class ScriptKind(models.TextChoices):
    """What a script is: a link for the agent, or an HTTP request the server sends on call events."""

    LINK = "link", gettext_lazy("Link for the agent")
    SERVER_REQUEST = "server_request", gettext_lazy("Request the server sends")


class HttpMethod(models.TextChoices):
    """The methods a server-request script may use."""

    POST = "POST", gettext_lazy("POST")
    PUT = "PUT", gettext_lazy("PUT")
    PATCH = "PATCH", gettext_lazy("PATCH")
    GET = "GET", gettext_lazy("GET")


class BodyEncoding(models.TextChoices):
    """How a server-request script's body template is sent."""

    JSON = "json", gettext_lazy("JSON (application/json)")
    FORM = "form", gettext_lazy("Form (application/x-www-form-urlencoded)")
    NONE = "none", gettext_lazy("No body")


class CallEvent(models.TextChoices):
    """The call events a server-request script fires on (each PBX format's names map to these)."""

    START = "start", gettext_lazy("Call start (ringing, new call)")
    ANSWERED = "answered", gettext_lazy("Answered")
    ENDED = "ended", gettext_lazy("Ended (hang-up)")


def default_on_events() -> list[str]:
    """A new server-request script fires when a call starts."""
    return [CallEvent.START.value]


class Script(models.Model):
    """A named URL template rendered per call into an action link, or a request the server sends.

    Tenant-wide when `integration` is None (only call properties); otherwise it belongs to the
    integration and, on a match, may also use the record's fields. `kind` "server_request" makes
    it an HTTP request the server sends on the call events in `on_events`
    (`integrations.server_scripts`); such scripts never appear in the answer's actions.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="scripts")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="scripts", null=True, blank=True
    )
    name = models.CharField(max_length=100)
    template = models.TextField()
    applies = models.CharField(
        max_length=16,
        choices=[(a.value, a.value.replace("_", " ").capitalize()) for a in ScriptApplies],
        default=ScriptApplies.ON_MATCH,
    )
    auto_open = models.BooleanField(
        default=False, help_text=gettext_lazy("Open the link automatically when the call comes in.")
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=16, choices=ScriptKind.choices, default=ScriptKind.LINK)
    http_method = models.CharField(max_length=8, choices=HttpMethod.choices, default=HttpMethod.POST)
    request_headers = EncryptedTextField(blank=True, default="")
    body_template = models.TextField(blank=True, default="")
    body_encoding = models.CharField(max_length=8, choices=BodyEncoding.choices, default=BodyEncoding.JSON)
    on_events = models.JSONField(default=default_on_events, blank=True)

    class Meta:
        ordering = ("position", "id")

    def __str__(self) -> str:
        return self.name

    def get_additional_data(self) -> dict[str, int | str | None]:
        """The audit log's context of an entry about this script (configurator/audit.py)."""
        return {"tenant_id": self.tenant_id, "integration_id": self.integration_id, "name": self.name}


class PhoneCacheEntry(models.Model):
    """One phone number of one CRM record, normalized to E.164 (ITU-T E.164, libphonenumber).

    `fields` holds the record fields the notification and scripts need (name -> text).
    On PostgreSQL the table is partitioned, one partition per generation (migration 0012,
    `integrations.phone_cache_store`); the model and its queries are the same on both databases.
    """

    # No index of their own: `phone_cache_lookup` and `phone_cache_generation` lead with them.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="phone_cache", db_index=False
    )
    generation = models.PositiveIntegerField()
    e164 = models.CharField(max_length=16)
    extension = models.CharField(max_length=20, blank=True)
    number_as_written = models.CharField(max_length=100)
    number_type = models.CharField(max_length=50, blank=True)
    record_id = models.CharField(max_length=255)
    record_type = models.CharField(max_length=50)
    display_name = models.CharField(max_length=255, blank=True)
    record_url = models.TextField(blank=True)
    fields = models.JSONField(default=dict)

    class Meta:
        indexes = [
            # The match API's one-query lookup: tenant + caller number.
            models.Index(fields=("tenant", "e164"), name="phone_cache_lookup"),
            # Switching and dropping generations.
            models.Index(fields=("integration", "generation"), name="phone_cache_generation"),
        ]

    def __str__(self) -> str:
        return f"{self.e164} -> {self.display_name}"


class PhoneBookUploadKind(models.TextChoices):
    """The format of an uploaded phone book."""

    CSV = "csv", gettext_lazy("CSV")
    VCARD = "vcard", gettext_lazy("vCard")


class PhoneBookUploadStatus(models.TextChoices):
    """Where an uploaded phone book stands."""

    PENDING = "pending", gettext_lazy("Waiting for the column mapping")
    IMPORTED = "imported", gettext_lazy("Imported")
    HELD = "held", gettext_lazy("Imported, held by the shrink guard")
    FAILED = "failed", gettext_lazy("Import failed")
    REJECTED = "rejected", gettext_lazy("Held, the old phone book was kept")


class PhoneBookUpload(models.Model):
    """A phone book file uploaded to a `phonebook_upload` integration (CSV or vCard).

    `text` is the file decoded from `encoding` (the bytes are not kept); `delimiter` the CSV's
    detected delimiter ("" for vCard); `mapping` one role per CSV column (see
    `integrations.connectors.phonebook.COLUMN_ROLES`). `selected_at` is set when the admin
    imports it: the integration's connector reads the newest selected upload. `problems` lists
    the first unreadable rows as [line, reason]; `problem_count` counts them all.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="phonebook_uploads")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    file_name = models.CharField(max_length=255)
    size = models.PositiveIntegerField(help_text=gettext_lazy("Size of the uploaded file in bytes."))
    kind = models.CharField(max_length=8, choices=PhoneBookUploadKind.choices)
    encoding = models.CharField(max_length=40)
    delimiter = models.CharField(max_length=4, blank=True)
    text = models.TextField()
    mapping = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=PhoneBookUploadStatus.choices, default=PhoneBookUploadStatus.PENDING
    )
    selected_at = models.DateTimeField(null=True, blank=True)
    problems = models.JSONField(default=list, blank=True)
    problem_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-uploaded_at", "-id")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.kind}, {self.status})"


class IgnoreKind(models.TextChoices):
    """Whether an ignore-list entry is one whole number or every number starting with a prefix."""

    NUMBER = "number", gettext_lazy("Number")
    PREFIX = "prefix", gettext_lazy("Prefix")


class IgnoreAction(models.TextChoices):
    """What happens to an ignored caller: no notification, or also a reject where the PBX can."""

    IGNORE = "ignore", gettext_lazy("Ignore (no notification)")
    REJECT = "reject", gettext_lazy("Reject the call (where the PBX can)")


class IgnoredNumber(models.Model):
    """One entry of a tenant's ignore list (integrations/ignore_list.py).

    `number` is E.164 (`+31201234567`) for kind "number", or the start of E.164 numbers
    (`+3190`) for kind "prefix". `added_by_name` keeps the adder's user name after the user is gone.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ignored_numbers")
    number = models.CharField(max_length=16)
    kind = models.CharField(max_length=8, choices=IgnoreKind.choices, default=IgnoreKind.NUMBER)
    action = models.CharField(max_length=8, choices=IgnoreAction.choices, default=IgnoreAction.IGNORE)
    note = models.CharField(max_length=200, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_by_name = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("number", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "kind", "number"), name="ignored_number_unique_per_tenant"
            ),
        ]
        indexes = [models.Index(fields=("tenant", "number"), name="ignored_number_lookup")]

    def __str__(self) -> str:
        return f"{self.number} ({self.kind}, {self.action})"

    def get_additional_data(self) -> dict[str, int | str | None]:
        """The audit log's context of an entry about this ignore-list entry (configurator/audit.py)."""
        return {"tenant_id": self.tenant_id, "name": self.number}


def _default_journal_days() -> int:
    from django.conf import settings

    return int(settings.CALL_JOURNAL_DAYS)


class CallJournalOptions(models.Model):
    """A tenant's call-log options (`integrations.journal`); a tenant without a row uses the defaults.

    `enabled`: log this tenant's match requests and call events; `days_kept`: how long entries
    are kept (default `CALL_JOURNAL_DAYS`); `mask_numbers`: store caller numbers as their last
    `journal.MASK_KEEP_DIGITS` digits only ("•••••4567"), in the request and answer too.
    """

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="call_journal_options")
    enabled = models.BooleanField(
        default=True, help_text=gettext_lazy("Log every match request and call event.")
    )
    days_kept = models.PositiveIntegerField(
        "days kept",
        default=_default_journal_days,
        help_text=gettext_lazy("Entries older than this are deleted."),
    )
    mask_numbers = models.BooleanField(
        "mask caller numbers",
        default=False,
        help_text=gettext_lazy(
            "Keep only the last digits of caller numbers (from now on; older entries stay)."
        ),
    )

    class Meta:
        verbose_name = "call log options"
        verbose_name_plural = "call log options"

    def __str__(self) -> str:
        return f"Call log options of {self.tenant_id}"

    def get_additional_data(self) -> dict[str, int | str | None]:
        """The audit log's context of an entry about these options (configurator/audit.py)."""
        return {"tenant_id": self.tenant_id, "name": "Call log"}


class CallJournalEntry(models.Model):
    """One match request or PBX call event of a tenant, as the call log shows it.

    `sender` is "api" or a PBX format's name; `event` the sender's event name ("" for the match
    API); `caller_number` as sent (or masked), `caller_e164` its E.164 form ("" when it has none,
    masked when the tenant masks numbers); `direction` "in", "out" or ""; `matched`,
    `match_count` and `integration_ids` (the integrations that matched, in answer order) come
    from the answer; `request` and `answer` are the JSON as received and answered (the answer is
    null when none was given); `status_code` the HTTP status answered; `duration_ms` the time to
    the answer in milliseconds.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField()
    sender = models.CharField(max_length=32)
    event = models.CharField(max_length=64, blank=True)
    call_id = models.CharField(max_length=255, blank=True)
    caller_number = models.CharField(max_length=128, blank=True)
    caller_e164 = models.CharField(max_length=32, blank=True)
    called_number = models.CharField(max_length=128, blank=True)
    direction = models.CharField(max_length=8, blank=True)
    matched = models.BooleanField(default=False)
    match_count = models.PositiveIntegerField(default=0)
    integration_ids = models.JSONField(default=list, blank=True)
    counts_as_call = models.BooleanField(
        default=False,
        help_text=gettext_lazy(
            "An answered inbound call's first event from outside (not ignored, not an internal "
            "extension): counted in the chart and report."
        ),
    )
    request = models.JSONField(default=dict, blank=True)
    answer = models.JSONField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()

    class Meta:
        ordering = ("-created", "-id")
        verbose_name = "call log entry"
        verbose_name_plural = "call log entries"
        indexes = [
            models.Index(fields=("tenant", "-created"), name="call_journal_created"),
            models.Index(fields=("tenant", "caller_e164"), name="call_journal_caller"),
            models.Index(fields=("created",), name="call_journal_purge"),
        ]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.sender} {self.caller_number} {self.status_code}"


class UnreadableNumber(models.Model):
    """A phone number a CRM record holds that the last sync could not read (integrations/phones.py).

    Replaced on each successful full sync (an incremental sync replaces those of the records it
    read), at most `UNREADABLE_NUMBERS_MAX` per integration. `generation` is the phone-cache
    generation whose sync found it (None: found by an incremental sync, which updates the current
    one): a held sync's rows wait beside the current ones, and become the list when the admin
    accepts it (`integrations.sync.current_unreadable_numbers`) or go when it is rejected or
    replaced. `raw_text` is the field as written (cut to 200 characters), `reason` why it could
    not be read; `record_url` links to the record when the CRM gives one.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="unreadable_numbers")
    record_id = models.CharField(max_length=255)
    record_type = models.CharField(max_length=50, blank=True)
    record_name = models.CharField(max_length=255, blank=True)
    record_url = models.TextField(blank=True)
    raw_text = models.CharField(max_length=200)
    reason = models.CharField(max_length=300)
    found_at = models.DateTimeField(auto_now_add=True)
    generation = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("record_name", "record_id", "id")
        indexes = [models.Index(fields=("integration", "record_id"), name="unreadable_number_record")]

    def __str__(self) -> str:
        return f"{self.record_name or self.record_id}: {self.raw_text}"


# PBX senders live in their own package; imported here so the app's models are all registered.
from integrations.pbx.models import PbxFormat as PbxFormat  # noqa: E402
from integrations.pbx.models import PbxSender as PbxSender  # noqa: E402


class ServerScriptRunStatus(models.TextChoices):
    """Where one server request stands."""

    PENDING = "pending", gettext_lazy("Pending")
    SENT = "sent", gettext_lazy("Sent")
    FAILED = "failed", gettext_lazy("Failed")
    REFUSED = "refused", gettext_lazy("Refused")


class ServerScriptRun(models.Model):
    """One server-request script fired for one call event: sent once, retried, each attempt kept.

    `call_key` is the call id, or `sha256:<hex>` of the call JSON and event when the call has
    none; the unique (script, call key, event) makes the same call event send once. `payload`
    holds what the request is rendered from (`{"call": {...}, "record": {...} | None}`),
    `request` the rendered method and URL, `attempts_log` one `{"at", "status_code", "error",
    "duration_ms"}` per attempt.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="server_script_runs")
    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="runs")
    call_key = models.CharField(max_length=255)
    call_id = models.CharField(max_length=255, blank=True, default="")
    event = models.CharField(max_length=16, choices=CallEvent.choices)
    status = models.CharField(
        max_length=16, choices=ServerScriptRunStatus.choices, default=ServerScriptRunStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    payload = models.JSONField(default=dict)
    request = models.JSONField(default=dict)
    attempts_log = models.JSONField(default=list)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created", "-id")
        constraints = [
            models.UniqueConstraint(fields=("script", "call_key", "event"), name="server_script_run_once"),
        ]
        indexes = [models.Index(fields=("tenant", "call_id"), name="server_script_run_call")]

    def __str__(self) -> str:
        return f"{self.script_id} {self.event} {self.call_key} ({self.status})"

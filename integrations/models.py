"""Integrations, their scripts, and the phone cache.

The phone cache is versioned per integration: a sync writes a new `generation` of rows while
lookups keep reading the integration's `cache_generation`; a successful sync switches the pointer
and drops the old rows in one transaction, so nobody ever sees a half-written cache. A sync that
would shrink the cache too far is held instead (`held_generation`) until the admin decides.
Each run is recorded as a `SyncRun` (the overview's sync history).
"""

from __future__ import annotations

from django.db import models

from configurator.models import Tenant, validate_country
from integrations.fields import EncryptedJSONField
from integrations.presets import ScriptApplies


class SyncState(models.TextChoices):
    """Where an integration's phone-cache sync stands."""

    IDLE = "idle", "Idle"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"


class LookupMode(models.TextChoices):
    """How calls are matched against an integration: its synced phone cache, or the CRM live."""

    CACHED = "cached", "Phone cache (synced nightly)"
    LIVE = "live", "Live lookup (asks the CRM on each call)"


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
        default=0, help_text="Match order among the tenant's integrations."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lookup_mode = models.CharField(
        max_length=8,
        choices=LookupMode.choices,
        default=LookupMode.CACHED,
        help_text="Live: each call asks the CRM (with a timeout and a short per-number cache).",
    )

    # Phone-cache status, shown on the integration overview.
    cache_generation = models.PositiveIntegerField(default=0)
    cached_numbers = models.PositiveIntegerField(default=0)
    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.IDLE)
    sync_started_at = models.DateTimeField(null=True, blank=True)
    sync_progress = models.PositiveIntegerField(
        default=0, help_text="Records read so far by the running sync."
    )
    last_sync_at = models.DateTimeField(null=True, blank=True, help_text="End of the last successful sync.")
    last_sync_skipped = models.PositiveIntegerField(
        default=0, help_text="Bad records skipped by the last sync."
    )
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)

    # The running sync's ownership of the lock: its random run token and its last sign of life.
    # Every write a sync makes when it ends is conditional on still holding the token.
    sync_run_token = models.CharField(max_length=64, blank=True)
    sync_heartbeat_at = models.DateTimeField(null=True, blank=True)
    sync_trigger = models.CharField(
        max_length=16, blank=True, help_text="Why the queued or running sync was started."
    )
    generation_counter = models.PositiveIntegerField(
        default=0, help_text="Highest cache generation ever given to a sync run of this integration."
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
        null=True, blank=True, help_text="Start of the last successful full sync."
    )
    last_incremental_sync_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the last successful incremental sync."
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
        help_text="ISO 3166 country for this CRM's numbers written without a country code; "
        "empty: the tenant's country.",
    )
    fallback_to_main_number = models.BooleanField(
        default=False,
        help_text="A caller whose full number is in no CRM matches the company's main number "
        "(the caller's number without its last digits, the extension).",
    )

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.UniqueConstraint(fields=("tenant", "name"), name="integration_name_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.preset})"

    def get_additional_data(self) -> dict[str, int | str | None]:
        """The audit log's context of an entry about this integration (configurator/audit.py)."""
        return {"tenant_id": self.tenant_id, "name": self.name}

    @property
    def number_region(self) -> str:
        """The ISO 3166 region this CRM's national numbers are read in: `region`, else the tenant's."""
        return self.region or self.tenant.country


class SyncRunStatus(models.TextChoices):
    """How one sync run ended (or that it still runs)."""

    RUNNING = "running", "Running"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"
    HELD = "held", "Held"
    ACCEPTED = "accepted", "Held, accepted"
    REJECTED = "rejected", "Held, old cache kept"


class SyncTrigger(models.TextChoices):
    """What started a sync run."""

    NIGHTLY = "nightly", "Nightly"
    RETRY = "retry", "Retry"
    MANUAL = "manual", "Sync now"
    CLI = "cli", "Command line"
    UPLOAD = "upload", "Phone book upload"
    HOURLY = "hourly", "Hourly"


class SyncMode(models.TextChoices):
    """A full sync reads every record into a new cache generation; an incremental one applies the
    records changed (and deleted) since the last successful sync to the live generation."""

    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


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


class Script(models.Model):
    """A named URL template rendered per call into an action link.

    Tenant-wide when `integration` is None (only call properties); otherwise it belongs to the
    integration and, on a match, may also use the record's fields.
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
        default=False, help_text="Open the link automatically when the call comes in."
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

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
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="phone_cache")
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

    CSV = "csv", "CSV"
    VCARD = "vcard", "vCard"


class PhoneBookUploadStatus(models.TextChoices):
    """Where an uploaded phone book stands."""

    PENDING = "pending", "Waiting for the column mapping"
    IMPORTED = "imported", "Imported"
    HELD = "held", "Imported, held by the shrink guard"
    FAILED = "failed", "Import failed"
    REJECTED = "rejected", "Held, the old phone book was kept"


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
    size = models.PositiveIntegerField(help_text="Size of the uploaded file in bytes.")
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


class UnreadableNumber(models.Model):
    """A phone number a CRM record holds that the last sync could not read (integrations/phones.py).

    Replaced on each successful full sync (an incremental sync replaces those of the records it
    read), at most `UNREADABLE_NUMBERS_MAX` per integration. `raw_text` is the field as written
    (cut to 200 characters), `reason` why it could not be read; `record_url` links to the record
    when the CRM gives one.
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

    class Meta:
        ordering = ("record_name", "record_id", "id")
        indexes = [models.Index(fields=("integration", "record_id"), name="unreadable_number_record")]

    def __str__(self) -> str:
        return f"{self.record_name or self.record_id}: {self.raw_text}"

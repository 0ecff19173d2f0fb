"""A short-lived, per-process memory of API keys that proved valid (the matching API's hot path).

Checking a key is a query plus a SHA-512 comparison (djangorestframework-api-key); a PBX sends the
same key on every call. A key that was found valid is remembered for `API_KEY_CACHE_SECONDS`
(default 10; 0 turns the memory off) with its tenant, so the call's only query is the one that
reads the tenant's configuration version and the phone cache (integrations.matching).

What that means for revocation: a key revoked, or a tenant changed, in this process is forgotten
at once (signals); one revoked by another process stops working in this one within
`API_KEY_CACHE_SECONDS`. Expiry is checked on every call. Unknown and wrong keys are never
remembered, so the failure counting of `integrations.api_key_failures` sees each of them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from tenants.models import Tenant, TenantAPIKey

# Keys one process remembers at most; the least recently used one is dropped beyond it.
MAX_KEYS = 10_000

_keys: OrderedDict[bytes, tuple[TenantAPIKey, float]] = OrderedDict()
_lock = threading.Lock()


def _digest(key: str) -> bytes:
    # The memory is indexed by a hash, so the process does not keep the keys themselves.
    return hashlib.sha256(key.encode()).digest()


def api_key_remembered(key: str) -> TenantAPIKey | None:
    """The valid key (with its tenant) this process checked for `key` less than
    `API_KEY_CACHE_SECONDS` ago, or None."""
    seconds = float(settings.API_KEY_CACHE_SECONDS)
    if seconds <= 0:
        return None
    digest = _digest(key)
    found = _keys.get(digest)
    if found is None:
        return None
    api_key, checked_at = found
    if time.time() - checked_at >= seconds:
        with _lock:
            _keys.pop(digest, None)
        return None
    return api_key


def api_key_remember(key: str, api_key: TenantAPIKey) -> None:
    """Remember that `key` is the valid `api_key` (checked now)."""
    if float(settings.API_KEY_CACHE_SECONDS) <= 0:
        return
    with _lock:
        _keys[_digest(key)] = (api_key, time.time())
        _keys.move_to_end(_digest(key))
        while len(_keys) > MAX_KEYS:
            _keys.popitem(last=False)


def api_keys_forget(*, key_id: str | None = None, tenant_id: int | None = None) -> None:
    """Forget the remembered keys with this id (the key's prefix-based primary key) or of this
    tenant; with neither, forget all."""
    with _lock:
        for digest, (api_key, _) in list(_keys.items()):
            if (
                (key_id is None and tenant_id is None)
                or api_key.pk == key_id
                or api_key.tenant_id == tenant_id
            ):
                _keys.pop(digest, None)


def _key_changed(sender: type[Any], instance: TenantAPIKey, **kwargs: Any) -> None:
    api_keys_forget(key_id=instance.pk)


def _tenant_changed(sender: type[Any], instance: Tenant, **kwargs: Any) -> None:
    api_keys_forget(tenant_id=instance.pk)


def connect_signals() -> None:
    """Forget a key when it is saved (revoked) or deleted, and a tenant's keys when it changes."""
    post_save.connect(_key_changed, sender=TenantAPIKey, dispatch_uid="api_key_cache.key.save")
    post_delete.connect(_key_changed, sender=TenantAPIKey, dispatch_uid="api_key_cache.key.delete")
    post_save.connect(_tenant_changed, sender=Tenant, dispatch_uid="api_key_cache.tenant.save")
    post_delete.connect(_tenant_changed, sender=Tenant, dispatch_uid="api_key_cache.tenant.delete")

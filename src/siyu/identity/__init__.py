"""OneID (DOMAIN §3): consumer keys linked into consumers with stable ids.

- :func:`resolve` builds ``identity_map`` (key → consumer_id), ``identity_conflicts`` and the
  ``identity_id_changes`` history from ``key_seen`` and ``identity_links``;
- :func:`find_consumer` turns a key or a (possibly old) consumer id into current consumer ids;
- :func:`normalize_key` and :func:`mask_key` are the one place keys are normalised and masked.
"""

from siyu.identity.keys import is_consumer_id, key_type, mask_key, normalize_key
from siyu.identity.lookup import (
    NotResolved,
    UnknownKey,
    find_consumer,
    keys_of,
    list_conflicts,
    merged_into,
)
from siyu.identity.resolver import ResolveReport, resolve

__all__ = [
    "resolve", "ResolveReport", "normalize_key", "mask_key", "key_type", "is_consumer_id",
    "find_consumer", "keys_of", "merged_into", "list_conflicts", "NotResolved", "UnknownKey",
]

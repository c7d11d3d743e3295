"""Registered domains of DNS names by the Public Suffix List (tldextract's bundled snapshot, no network)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _extractor() -> Any:
    # Imported on first use: the command line's fast path stays light when a capture has no DNS.
    import tldextract

    # No suffix-list URLs and no cache folder: the snapshot shipped inside the package, nothing fetched or
    # written at run time (tldextract's default would download the list and cache it in ~/.cache).
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registered_domain(name: str) -> str:
    """The registered domain (public suffix + one label) of a DNS name, lower case.

    Names under no known public suffix (`svc.internal`, `example.test`, `localhost`) keep their last two
    labels; the root is ".".

    Example:
        >>> registered_domain("www.bbc.co.uk"), registered_domain("api.svc.internal")
        ('bbc.co.uk', 'svc.internal')
    """
    name = name.rstrip(".").lower()
    if not name:
        return "."
    found: str = _extractor()(name).top_domain_under_public_suffix
    return found or ".".join(name.split(".")[-2:])

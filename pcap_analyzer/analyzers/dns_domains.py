"""Registered domains of DNS names by the Public Suffix List (the `publicsuffixlist` package's bundled copy,
ICANN section; nothing fetched or written at run time).

Parsing the whole list takes ~60 ms of pure Python; a rule can only apply to names under its own top-level
label, so only the rules of the top-level labels present are handed to the parser (~5 ms).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_PRIVATE_SECTION = "===BEGIN PRIVATE DOMAINS==="


def _top_labels(name: str) -> set[str]:
    """The name's top-level label, also in Unicode when it is punycode (the list is written in Unicode)."""
    tld = name.rsplit(".", 1)[-1]
    out = {tld}
    if tld.startswith("xn--"):
        try:
            out.add(tld.encode("ascii").decode("idna"))
        except UnicodeError:
            pass
    return out


def _suffix_list(tlds: set[str]) -> Any:
    # Imported on first use: the command line's fast path stays light when a capture has no DNS.
    from publicsuffixlist import PSLFILE, PublicSuffixList

    rules = []
    with open(PSLFILE, encoding="utf-8") as f:
        for line in f:
            if line.startswith("//"):
                if _PRIVATE_SECTION in line:  # private suffixes (github.io, ...) would split organisations
                    break
                continue
            rule = line.strip()
            if rule and rule.rsplit(".", 1)[-1].lstrip("!*.") in tlds:
                rules.append(rule)
    return PublicSuffixList(source=rules)


def registered_domains(names: Iterable[str]) -> list[str]:
    """The registered domain (public suffix + one label) of each DNS name, lower case.

    Names under no known public suffix (`svc.internal`, `example.test`, `localhost`) keep their last two
    labels; the root is ".".

    Example:
        >>> registered_domains(["www.bbc.co.uk", "api.svc.internal", ""])
        ['bbc.co.uk', 'svc.internal', '.']
    """
    clean = [n.rstrip(".").lower() for n in names]
    tlds: set[str] = set()
    for n in clean:
        if n:
            tlds |= _top_labels(n)
    psl = _suffix_list(tlds) if tlds else None
    out = []
    for n in clean:
        if not n:
            out.append(".")
            continue
        found = psl.privatesuffix(n) if psl is not None else None
        out.append(found or ".".join(n.split(".")[-2:]))
    return out


def registered_domain(name: str) -> str:
    """`registered_domains` of one name."""
    return registered_domains([name])[0]

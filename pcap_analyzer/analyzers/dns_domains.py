"""Registered domains of DNS names by the Public Suffix List (the `publicsuffixlist` package's bundled copy,
ICANN section; nothing fetched or written at run time).

Parsing the whole list takes ~60 ms of pure Python; a rule can only apply to names under its own top-level
label, so only the rules of the top-level labels present are found (by substring search) and handed to the
parser (~2 ms).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_PRIVATE_SECTION = "===BEGIN PRIVATE DOMAINS==="
_FIND_MAX_TLDS = 24


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


def _rules_under(icann: str, tld: str) -> list[str]:
    """The list's rules for names under `tld`: the line `tld` and the lines ending in `.tld` (found with
    str.find, so the cost is the rules of that label, not the ~11,000 lines of the list)."""
    rules = [tld] if f"\n{tld}\n" in icann else []
    needle = f".{tld}\n"
    end = icann.find(needle)
    while end >= 0:
        line = icann[icann.rfind("\n", 0, end) + 1 : end + len(needle) - 1].strip()
        if line and not line.startswith("//"):
            rules.append(line)
        end = icann.find(needle, end + 1)
    return rules


def _suffix_list(tlds: set[str]) -> Any:
    # Imported on first use: the command line's fast path stays light when a capture has no DNS.
    from publicsuffixlist import PSLFILE, PublicSuffixList

    with open(PSLFILE, encoding="utf-8") as f:
        # private suffixes (github.io, ...) would split organisations
        icann = "\n" + f.read().partition(_PRIVATE_SECTION)[0].replace("\r\n", "\n")
    if len(tlds) > _FIND_MAX_TLDS:  # each search reads the whole list: one pass over its lines instead
        lines = (line.strip() for line in icann.split("\n") if not line.startswith("//"))
        return PublicSuffixList(source=[r for r in lines if r and r.rsplit(".", 1)[-1].lstrip("!*.") in tlds])
    return PublicSuffixList(source=[r for tld in sorted(tlds) for r in _rules_under(icann, tld)])


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

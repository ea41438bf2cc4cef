"""What is secret, and the forms a secret takes in text.

The one rule for what is never shown, on every path (plan, drift, export, validate, the plan
file, the notifier): a value holding a `Sensitive` (`holds_secret`), or any value under a key
named like a secret (`secret_named`); `is_sensitive` is the two together. `masked` is a value's
JSON-safe form with every secret in it replaced; `secret_forms` lists the encodings of a
secret a scrubber looks for in text a server or a view produced.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from reconciler.model import PLAIN_TYPES, Sensitive, escape_unsafe

# A key named like a secret: `DB_PASSWORD`, `api_key`, `AUTH_TOKEN`, `credentials`.
_SECRET_WORDS = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)
# Fields whose values are the *names* of secrets, which are safe to show and needed to review
# a change: Kubiya's vault secret names (`config.secrets: [PG_PASSWORD]`).
SECRET_NAME_FIELDS = frozenset({"config.secrets"})
# Keys named like secrets that hold none: the name of a secret kept elsewhere (`secret_ref` of
# a Kubiya file names a vault secret), a header's name, a public key.
SECRET_NAME_KEYS = frozenset({"secret_ref", "secret_name", "header_name", "key_name", "public_key"})
_INDEX = re.compile(r"\[\d+\]")


def holds_secret(value: Any) -> bool:
    """Whether a value is, or contains, a `Sensitive` (a `${env:}`/`${file:}` reference or a
    password-type field of a server's type catalog, which the adapters wrap)."""
    kind = type(value)
    # The exact types first: a plan asks this of every field of every resource, and an
    # isinstance test against Mapping costs an ABC check.
    if kind in PLAIN_TYPES:
        return False
    if kind is dict:
        return any(holds_secret(v) for v in value.values())
    if isinstance(value, Sensitive):
        return True
    if isinstance(value, Mapping):
        return any(holds_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_secret(v) for v in value)
    return False


# Remembered per path: a plan asks it for every field of every resource, and the paths of one
# kind repeat from resource to resource.
@functools.lru_cache(maxsize=8192)
def secret_named(path: str) -> bool:
    """Whether a field's own key is named like a secret (`config.env_vars.DB_PASSWORD`)."""
    bare = _INDEX.sub("", path)
    # Tags are labels, refused as references by validate: `tags.key` is a tag's key.
    if bare in SECRET_NAME_FIELDS or bare == "tags" or bare.startswith("tags."):
        return False
    leaf = bare.rsplit(".", 1)[-1]
    return leaf not in SECRET_NAME_KEYS and bool(_SECRET_WORDS.search(leaf))


@functools.lru_cache(maxsize=4096)
def may_name_a_secret(key: str) -> bool:
    """Whether a key holds one of the words `secret_named` looks for: a path none of whose
    keys does is never secret-named, which lets a walk over a large document skip building
    the path's text for every leaf."""
    return _SECRET_WORDS.search(key) is not None


def is_sensitive(path: str, *values: Any) -> bool:
    """The one rule for what is never shown, on every path (plan, drift, export, validate, the
    plan file, the notifier): a value holding a secret reference or a password-type field, or
    any value under a key named like a secret."""
    return secret_named(path) or any(holds_secret(v) for v in values)


# The characters the Markdown view backslash-escapes in free text.
_MARKDOWN_PUNCT = re.compile(r"([\\`*_\[\]|~#!])")


def secret_forms(secret: str) -> set[str]:
    """The ways a secret can show up in text once a server, a library or a view has encoded it: raw,
    JSON-escaped (once, as in a body, and twice, as in a body echoed inside a JSON error),
    and, raw or as inside a JSON body, URL-encoded and base64 (standard and url-safe, at each
    of the three byte alignments it can have inside a longer encoded text, so that
    `user:secret` in a Basic header or a whole body in base64 is caught).
    Forms shorter than 4 characters are left out: they would scrub ordinary text."""
    import base64
    import json
    from urllib.parse import quote, quote_plus

    # The secret as it stands in text, and as it stands inside a JSON body.
    texts = {secret}
    for ascii_only in (True, False):
        texts.add(json.dumps(secret, ensure_ascii=ascii_only)[1:-1])
    forms = set(texts)
    # As the views escape untrusted text: HTML entities (Markdown, Slack mrkdwn), Markdown's
    # punctuation backslash-escaped (newlines joined), Slack's look-alike backtick. A message
    # echoing a secret is escaped before the last scrub sees it.
    # An escaped form may then be JSON-encoded in turn (a Slack payload, a JSON report).
    for text in texts:
        shown = escape_unsafe(text)
        entities = shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        one_line = escape_unsafe(text.replace("\n", " "))
        one_line = one_line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        for view in (shown, entities, entities.replace("`", "\u02cb"), _MARKDOWN_PUNCT.sub(r"\\\1", one_line)):
            forms.add(view)
            for ascii_only in (True, False):
                forms.add(json.dumps(view, ensure_ascii=ascii_only)[1:-1])
    for text in texts:
        for ascii_only in (True, False):
            forms.add(json.dumps(text, ensure_ascii=ascii_only)[1:-1])
        forms.add(quote(text, safe=""))
        forms.add(quote_plus(text, safe=""))
        raw = text.encode()
        for pad in range(3):
            # Characters of base64(pad bytes + text + anything) that depend on the text only.
            start = -(-pad * 8 // 6)
            end = (pad + len(raw)) * 8 // 6
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                forms.add(encode(b"\0" * pad + raw).decode()[start:end])
    return {f for f in forms if len(f) >= 4}


def masked(value: Any) -> Any:
    """The JSON-safe, secret-free form of a body value."""
    kind = type(value)
    # The exact types first, as in `holds_secret`: every resource's body is masked per plan.
    if kind in PLAIN_TYPES:
        return value
    if kind is dict:
        return {str(k): masked(v) for k, v in value.items()}
    if kind is list:
        return [masked(v) for v in value]
    if isinstance(value, Sensitive):
        return "(sensitive)"
    if isinstance(value, Mapping):
        return {str(k): masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    return value


def sensitive_in(value: Any) -> list[Sensitive]:
    """Every `Sensitive` held in a body, however deep in its mappings, lists and tuples."""
    found: list[Sensitive] = []
    _collect_sensitive(value, found)
    return found


def _collect_sensitive(value: Any, found: list[Sensitive]) -> None:
    # Appends rather than yields: it walks every value of every resource on each plan, and a
    # generator costs a frame per level per value. Strings, the common leaf, are tested first.
    if isinstance(value, str):
        return
    if isinstance(value, Sensitive):
        found.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_sensitive(v, found)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect_sensitive(v, found)
    elif isinstance(value, Mapping):
        for v in value.values():
            _collect_sensitive(v, found)

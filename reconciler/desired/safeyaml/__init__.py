"""Safe YAML reading that remembers where every value was written.

In the core, this package reads YAML and `reconciler.desired.dumper` writes it. It turns
text into plain Python values (`YMap`, a dict; `YList`, a list; `str`, `int`, `float`, `bool`,
`None`) whose containers carry the positions of their entries (packed, eight bytes each), so
that any later layer can point at `file:line:column`. Problems come back as `Diagnostic`s,
never as a PyYAML exception.

- `nodes`: the values (`YMap`, `YList`), `Parsed` and the `Limits` on one document;
- `scalars`: typing by the YAML 1.2 core schema (`yes` stays a string, `0600` is 600) and tags;
- `builder`: libyaml's events -> values, where every safety rule is enforced (standard tags
  only, no duplicate keys, bounded aliases and depth, merge keys);
- `positions`: locations of keys, values and paths; moving them back to a template; pruning;
- `errors`: the parser's problems in the tool's own words;
- `reader`: `parse`, `decode`, `load_data`.
"""

from reconciler.desired.safeyaml.nodes import (
    DEFAULT_LIMITS,
    NO_POS,
    Limits,
    Mark,
    Parsed,
    YList,
    YMap,
    new_list,
    new_map,
    pack,
    release,
    unpack,
)
from reconciler.desired.safeyaml.positions import (
    SourceMapping,
    byte_location,
    container_location,
    item_location,
    key_location,
    locate,
    location,
    position_location,
    pruned,
    raw_text,
    relocate,
    value_location,
)
from reconciler.desired.safeyaml.reader import HAVE_LIBYAML, decode, load_data, parse
from reconciler.desired.safeyaml.scalars import show_tag

__all__ = [
    "DEFAULT_LIMITS",
    "HAVE_LIBYAML",
    "NO_POS",
    "Limits",
    "Mark",
    "Parsed",
    "SourceMapping",
    "YList",
    "YMap",
    "byte_location",
    "container_location",
    "decode",
    "item_location",
    "key_location",
    "load_data",
    "locate",
    "location",
    "new_list",
    "new_map",
    "pack",
    "parse",
    "position_location",
    "pruned",
    "raw_text",
    "release",
    "relocate",
    "show_tag",
    "unpack",
    "value_location",
]

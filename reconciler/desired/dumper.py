"""Writing plain data as YAML, for export: keys in the order given, multi-line strings as
literal blocks, so exported files read naturally."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper with the literal-block presenter for strings."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str_presenter)


def dump(document: Any) -> str:
    """YAML text of plain data (dicts, lists, scalars), keys in the order given."""
    return str(
        yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    )

"""Reading one YAML document: text in, a `Parsed` value with its diagnostics out.

The parser is libyaml's (`yaml.CParser`) when PyYAML was built with it, the pure-Python one
otherwise; either way only its event stream is used (see `builder`). PyYAML's exceptions never
leave this module: they become `Diagnostic`s.
"""

from __future__ import annotations

import gc
from typing import Any

import yaml

from reconciler.desired.safeyaml.builder import Builder
from reconciler.desired.safeyaml.errors import Fatal, reader_diagnostic, syntax_diagnostic, too_deep
from reconciler.desired.safeyaml.nodes import DEFAULT_LIMITS, Limits, Parsed
from reconciler.desired.safeyaml.positions import byte_location
from reconciler.errors import DiagnosticsError, error

try:
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]

    HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader as _PyReader
    from yaml.scanner import Scanner as _PyScanner

    class _Parser(_PyReader, _PyScanner, _PyParser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            _PyReader.__init__(self, stream)
            _PyScanner.__init__(self)
            _PyParser.__init__(self)

    HAVE_LIBYAML = False


def parse(text: str | bytes, file: str, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """Read one YAML document from `text`. An empty document gives the value None.

    `text` may also be the file's bytes, once `decode` has accepted them (valid UTF-8) and
    without a BOM: the parser then reads them as they are, where it would otherwise hold a
    UTF-8 copy of the text of its own while it runs."""
    result = Parsed(None)
    gc_was_enabled = gc.isenabled()
    # The builder allocates hundreds of thousands of small containers and none of them can be
    # garbage yet; the cyclic collector would rescan them all again and again (measured: four
    # times the parse time on a 10,000-resource file).
    gc.disable()
    try:
        result.value = Builder(file, limits, result).run(_Parser(text))
    except Fatal as fatal:
        result.diagnostics.append(fatal.diagnostic)
        result.value = None
        result.ok = False
    except yaml.MarkedYAMLError as exc:
        # libyaml's scanner reads a line of flow collections ahead of the events, so on deep
        # nesting it may refuse (newer releases bound the depth themselves) before the builder
        # sees the level that passes the tool's bound: whatever refused, a document nested
        # deeper than the bound gets the tool's own diagnostic.
        source = _text(text)
        deep = too_deep(source, exc.problem_mark, file, limits.max_depth)
        result.diagnostics.append(deep if deep is not None else syntax_diagnostic(exc, source, file))
        result.value = None
        result.ok = False
    except yaml.YAMLError as exc:
        result.diagnostics.append(reader_diagnostic(exc, _text(text), file))
        result.value = None
        result.ok = False
    finally:
        if gc_was_enabled:
            gc.enable()
    return result


def _text(text: str | bytes) -> str:
    return text if isinstance(text, str) else text.decode("utf-8")


def decode(data: bytes, file: str) -> str:
    """UTF-8 text of a file (a BOM is dropped); invalid bytes are an error at their line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DiagnosticsError(
            [
                error(
                    "file.encoding",
                    f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                    location=byte_location(file, data, exc.start),
                    hint="save the file as UTF-8",
                )
            ]
        ) from exc
    return text[1:] if text.startswith("\ufeff") else text


def load_data(text: str, file: str) -> Any:
    """Read a trusted-shape YAML file (var files, the package's data files) or raise."""
    parsed = parse(text, file)
    if parsed.diagnostics or not parsed.ok:
        raise DiagnosticsError(parsed.diagnostics)
    return parsed.value

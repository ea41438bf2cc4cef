"""The bounds of a template render: what a template may spend and build, checked before it runs.

A render draws on a budget (`Budget`, held in a context variable for the render's duration) of
`range` items and seconds; every call and arithmetic step checks it (`check_budget`). An
operation that would build a huge value in one step (`9**99999999`, `'a' * 10**9`,
`'%999999999d' % 1`, `'x' | center(10**9)`, `lipsum(3000000)`) is refused *before* it runs
(`check_binop`, `check_call`, `check_str_format`, the guarded filters), since a single step of
C code cannot be interrupted. `template` builds the sandboxed environment on these checks.
"""

from __future__ import annotations

import contextvars
import re
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

# Bounds of one render: loop items produced by `range`, seconds of work, and the size of one
# value (by default the size a rendered file may have). A template is a page of YAML with a
# few loops; these leave room for tens of thousands of resources.
MAX_RANGE_ITEMS = 1_000_000
MAX_RENDER_SECONDS = 10.0
# Integers beyond this many bits cannot even be written out (Python prints at most 4,300
# digits, about 14,000 bits); building them is where the time goes.
MAX_INT_BITS = 16_384
DEFAULT_MAX_CHARS = 10 * 1024 * 1024
MAX_LIPSUM_PARAGRAPHS = 100
MAX_LIPSUM_WORDS = 1_000


@dataclass
class Budget:
    deadline: float
    items: int = 0
    max_chars: int = DEFAULT_MAX_CHARS


_budget: contextvars.ContextVar[Budget] = contextvars.ContextVar("template_budget")


class TemplateBudgetError(Exception):
    """A template ran past its budget of loop items or seconds (`template.too-slow`), or tried
    to build a value larger than a rendered file may be (`template.too-large`)."""

    def __init__(self, message: str, code: str = "template.too-slow") -> None:
        super().__init__(message)
        self.code = code


def check_budget(items: int = 0) -> None:
    budget = _budget.get(None)
    if budget is None:
        return
    budget.items += items
    if budget.items > MAX_RANGE_ITEMS:
        raise TemplateBudgetError(f"the template's loops run over more than {MAX_RANGE_ITEMS:,} items")
    if time.monotonic() > budget.deadline:
        raise TemplateBudgetError(f"the template took more than {MAX_RENDER_SECONDS:g} s to render")


def _max_chars() -> int:
    budget = _budget.get(None)
    return DEFAULT_MAX_CHARS if budget is None else budget.max_chars


def check_size(size: int, what: str) -> None:
    """Refuses an operation that would build a value of `size` characters (or items)."""
    limit = _max_chars()
    if size > limit:
        raise TemplateBudgetError(
            f"{what} would build a value of {size:,} characters or items, more than {limit:,}", "template.too-large"
        )


def check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        check_size(value, what)


def _sized(value: Any) -> int:
    try:
        return len(value) if isinstance(value, (str, bytes, list, tuple, dict, range)) else 0
    except OverflowError:  # a range too long for len()
        return _max_chars() + 1


def budgeted_range(*args: int) -> range:
    items = range(*args)
    try:
        count = len(items)
    except OverflowError:
        raise TemplateBudgetError(f"the template's loops run over more than {MAX_RANGE_ITEMS:,} items") from None
    check_budget(count)
    return items


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    from jinja2.utils import generate_lorem_ipsum

    if not 0 <= n <= MAX_LIPSUM_PARAGRAPHS or not 0 <= max <= MAX_LIPSUM_WORDS or min > max:
        raise TemplateBudgetError(
            f"lipsum() is limited to {MAX_LIPSUM_PARAGRAPHS} paragraphs of at most {MAX_LIPSUM_WORDS} words",
            "template.too-large",
        )
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuses, before it runs, an arithmetic or repetition step whose result is too large."""
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        if abs(left) > 1 and _int_bits(left) * right > MAX_INT_BITS:
            base = left if _int_bits(left) < 64 else "a number"
            raise TemplateBudgetError(
                f"{base} ** {right} would be a number of more than {MAX_INT_BITS:,} bits", "template.too-large"
            )
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
                raise TemplateBudgetError(
                    f"a multiplication would make a number of more than {MAX_INT_BITS:,} bits", "template.too-large"
                )
        elif isinstance(right, int):
            check_size(_sized(left) * right, "a repetition (`*`)")
        elif isinstance(left, int):
            check_size(_sized(right) * left, "a repetition (`*`)")
    elif operator == "+":
        check_size(_sized(left) + _sized(right), "a concatenation (`+`)")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right)


_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")


def _int_args(args: Any) -> list[int]:
    values = args.values() if isinstance(args, Mapping) else args if isinstance(args, (tuple, list)) else [args]
    return [v for v in values if isinstance(v, int)]


def _check_printf(text: str, args: Any) -> None:
    """`%`-formatting: every width and precision, written or taken from the arguments, bounded."""
    for match in _PRINTF_SPEC.finditer(text):
        for part in match.groups():
            if part == "*":
                for value in _int_args(args):
                    check_width(abs(value), "a `%` format width")
            elif part:
                check_width(int(part), "a `%` format width")


def check_str_format(text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """`str.format`: widths in the replacement fields, and nested fields' arguments, bounded."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            for value in [*_int_args(args), *_int_args(dict(kwargs))]:
                check_width(abs(value), "a format width")
        for number in _NUMBER.findall(spec):
            check_width(int(number), "a format width")


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    if len(new) <= len(old):
        return
    hits = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    check_size(len(text) + hits * (len(new) - len(old)), "a replace")


def _check_join(separator: Any, items: Any) -> None:
    if isinstance(separator, str):
        check_size(len(separator) * max(_sized(items) - 1, 0), "a join")


# str methods a template may call that can build a value much larger than their inputs.
_STR_METHOD_CHECKS: dict[str, Callable[..., None]] = {
    "center": lambda s, width=0, *_: check_width(width, "a str.center width"),
    "ljust": lambda s, width=0, *_: check_width(width, "a str.ljust width"),
    "rjust": lambda s, width=0, *_: check_width(width, "a str.rjust width"),
    "zfill": lambda s, width=0, *_: check_width(width, "a str.zfill width"),
    "expandtabs": lambda s, tabsize=8, *_: check_size(s.count("\t") * max(tabsize, 0) + len(s), "expandtabs"),
    "replace": _check_replace,
    "join": lambda s, items=(), *_: _check_join(s, items),
}


def check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, str):
        check = _STR_METHOD_CHECKS.get(getattr(obj, "__name__", ""))
        if check is not None:
            check(owner, *args, *kwargs.values())


def guard_filters(env: jinja2.Environment) -> None:
    """Filters that can build a value far larger than their inputs check their arguments first."""
    import jinja2

    stock = dict(env.filters)

    def center(value: Any, width: int = 80) -> Any:
        check_width(width, "the center filter's width")
        return stock["center"](value, width)

    def indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        check_width(width, "the indent filter's width")
        if isinstance(width, str):
            check_size(len(width) * (_sized(value) + 1), "the indent filter")
        elif isinstance(width, int):
            check_size(width * (_sized(value) + 1), "the indent filter")
        return stock["indent"](value, width, first, blank)

    def format_filter(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            _check_printf(value, kwargs or args)
        return stock["format"](value, *args, **kwargs)

    def replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> Any:
        _check_replace(value, old, new, -1 if count is None else count)
        return stock["replace"](eval_ctx, value, old, new, count)

    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        _check_join(d, value)
        return stock["join"](eval_ctx, value, d, attribute)

    def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        check_width(linecount, "the batch filter's size")
        return stock["batch"](value, linecount, fill_with)

    def wordwrap(
        environment: Any,
        s: Any,
        width: int = 79,
        break_long_words: bool = True,
        wrapstring: Any = None,
        break_on_hyphens: bool = True,
    ) -> Any:
        if isinstance(wrapstring, str) and isinstance(width, int) and width > 0:
            check_size(len(wrapstring) * (_sized(s) // width + 1) + _sized(s), "the wordwrap filter")
        return stock["wordwrap"](environment, s, width, break_long_words, wrapstring, break_on_hyphens)

    env.filters.update(
        center=center,
        indent=indent,
        format=format_filter,
        replace=jinja2.pass_eval_context(replace),
        join=jinja2.pass_eval_context(join),
        batch=batch,
        wordwrap=jinja2.pass_environment(wordwrap),
    )


def begin(max_chars: int) -> contextvars.Token[Budget]:
    """Opens the budget of one render (ended with `end`)."""
    return _budget.set(Budget(time.monotonic() + MAX_RENDER_SECONDS, max_chars=max_chars))


def end(token: contextvars.Token[Budget]) -> None:
    _budget.reset(token)

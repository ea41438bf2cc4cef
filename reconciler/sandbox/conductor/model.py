"""Request bodies of the Conductor emulator: checked input values and the API's error type.

Bodies are parsed by hand rather than by pydantic so that every failure has the vendor's error
shape (`ApiError` → `{status, message, instance, retryable, validationErrors}`) and so that
JSON types are strict: `"enabled": "yes"` or `"configuration": []` is a 400 naming the path.
Unknown properties are ignored, as the vendor's Spring/Jackson server does; that is also why
a `tags` field sent to the single-provider POST has no effect, nor does a `configuration`
inside a bulk item's `apis` (their documented shape is `{integrationName, api, description,
enabled}`).

Defaults when a field is omitted or null (the upsert replaces the stored fields whole):
`description` "", `enabled` true, `configuration` {}; `category` defaults to the type's own,
and a category other than the type's (per the catalog) is a 400 on `category`; a type whose
category is not published (aws, gcp) takes any category of the enum, or none. Configuration
keys are not checked against the catalog: the map is stored as sent, values of any JSON type.
`frequency` is one of daily/weekly/monthly in any case, stored upper-case (`DAILY`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.conductor.catalog import Catalog

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY")
MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class FieldError:
    """One entry of `validationErrors`: where (`path`, dotted/indexed), what, and the value."""

    path: str
    message: str
    invalid_value: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "invalidValue": self.invalid_value}


class ApiError(Exception):
    """A non-auth error answer; `status` ≥ 500 is `retryable`."""

    def __init__(self, status: int, message: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = tuple(errors)


def invalid(errors: Sequence[FieldError]) -> ApiError:
    """The 400 for a list of field errors, its message summing them up."""
    summary = "; ".join(f"{e.path}: {e.message}" if e.path else e.message for e in errors)
    return ApiError(400, f"Validation failed: {summary}", errors)


@dataclass(frozen=True)
class Tag:
    key: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value}


@dataclass(frozen=True)
class ApiInput:
    """The body of the single API upsert: it replaces these fields of the API whole."""

    api: str
    description: str
    enabled: bool
    configuration: Mapping[str, Any]
    max_tokens: int | None = None
    frequency: str | None = None


@dataclass(frozen=True)
class BulkApi:
    """An API inside a bulk item: `{integrationName, api, description, enabled}` only.

    It cannot carry a configuration, so saving it keeps the configuration, `maxTokens` and
    `frequency` an existing API has (a new one starts with none).
    """

    api: str
    description: str
    enabled: bool


@dataclass(frozen=True)
class ProviderInput:
    """A provider to upsert. `tags` None leaves the stored tags alone; a tuple replaces them."""

    name: str
    type: str
    category: str
    description: str
    enabled: bool
    configuration: Mapping[str, Any]
    tags: tuple[Tag, ...] | None = None
    apis: tuple[BulkApi, ...] = field(default=())


class _Reader:
    """Reads typed fields of one JSON object, collecting errors instead of stopping at one."""

    def __init__(self, obj: Mapping[str, Any], prefix: str, errors: list[FieldError]) -> None:
        self.obj = obj
        self.prefix = prefix
        self.errors = errors

    def path(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, message: str, value: Any) -> None:
        self.errors.append(FieldError(self.path(key), message, value))

    def string(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.obj.get(key)
        if value is None:
            if required:
                self.fail(key, "must not be null", None)
            return default
        if not isinstance(value, str):
            self.fail(key, "must be a string", value)
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.obj.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, "must be a boolean", value)
            return default
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.obj.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, "must be a JSON object", value)
            return {}
        return value

    def integer(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(key, "must be a non-negative integer", value)
            return None
        return value

    def frequency(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or value.upper() not in FREQUENCIES:
            self.fail(key, "must be one of daily, weekly, monthly", value)
            return None
        return value.upper()

    def tags(self, key: str) -> tuple[Tag, ...] | None:
        value = self.obj.get(key)
        if value is None:
            return None
        return parse_tags(value, self.errors, self.path(key))


def _check_name(value: str, path: str, errors: list[FieldError]) -> None:
    # A name is a path segment of every other call, so it must be addressable as one.
    if not value.strip():
        errors.append(FieldError(path, "must not be blank", value))
    elif "/" in value or len(value) > MAX_NAME_LENGTH:
        errors.append(FieldError(path, f"must have no '/' and at most {MAX_NAME_LENGTH} characters", value))


def check_path_name(value: str, what: str) -> None:
    errors: list[FieldError] = []
    _check_name(value, what, errors)
    if errors:
        raise invalid(errors)


def parse_tags(value: Any, errors: list[FieldError], path: str = "") -> tuple[Tag, ...]:
    """A JSON array of `{key, value}` as a tuple of distinct tags, in first-seen order."""
    if not isinstance(value, list):
        errors.append(FieldError(path, "must be a JSON array of {key, value}", value))
        return ()
    tags: dict[Tag, None] = {}
    for i, item in enumerate(value):
        item_path = f"{path}[{i}]"
        if not isinstance(item, dict):
            errors.append(FieldError(item_path, "must be a JSON object {key, value}", item))
            continue
        reader = _Reader(item, f"{item_path}.", errors)
        before = len(errors)
        key = reader.string("key", required=True)
        tag_value = reader.string("value", required=True)
        if len(errors) == before and not key:
            reader.fail("key", "must not be blank", key)
        if len(errors) == before:
            tags[Tag(key, tag_value)] = None
    return tuple(tags)


def _category(reader: _Reader, catalog: Catalog) -> str | None:
    category = reader.string("category", default="")
    if category and category not in catalog.categories:
        reader.fail("category", f"must be one of {', '.join(catalog.categories)}", category)
        return None
    return category or None


def parse_provider_update(body: Any, name: str, catalog: Catalog) -> tuple[ProviderInput, bool]:
    """The single-provider POST body; the flag says whether its `type` is a known one.

    A bad body is an `ApiError` 400; an unknown type is left to the caller (a 404 there).
    """
    if not isinstance(body, dict):
        raise invalid([FieldError("", "the request body must be a JSON object", body)])
    errors: list[FieldError] = []
    reader = _Reader(body, "", errors)
    itype = reader.string("type", required=True)
    category = _category(reader, catalog)
    description = reader.string("description")
    enabled = reader.boolean("enabled", True)
    configuration = reader.mapping("configuration")
    if not errors and not itype:
        reader.fail("type", "must not be blank", itype)
    known = itype in catalog.types
    own = catalog.types[itype].category if known else None
    if not errors and own and category and category != own:
        reader.fail("category", f"type {itype} is of category {catalog.types[itype].category}", category)
    if errors:
        raise invalid(errors)
    return (
        ProviderInput(
            name=name,
            type=itype,
            category=category or own or "",
            description=description,
            enabled=enabled,
            configuration=configuration,
        ),
        known,
    )


def parse_api_update(body: Any, api: str) -> ApiInput:
    if not isinstance(body, dict):
        raise invalid([FieldError("", "the request body must be a JSON object", body)])
    errors: list[FieldError] = []
    reader = _Reader(body, "", errors)
    result = ApiInput(
        api=api,
        description=reader.string("description"),
        enabled=reader.boolean("enabled", True),
        configuration=reader.mapping("configuration"),
        max_tokens=reader.integer("maxTokens"),
        frequency=reader.frequency("frequency"),
    )
    if errors:
        raise invalid(errors)
    return result


def parse_bulk_item(item: Any, index: int, catalog: Catalog) -> tuple[ProviderInput | None, list[FieldError]]:
    """One element of the bulk POST array, checked on its own (type changes are the caller's).

    The errors' paths are rooted at the array (`[2].apis[0].integrationName`).
    """
    prefix = f"[{index}]"
    if not isinstance(item, dict):
        return None, [FieldError(prefix, "must be a JSON object", item)]
    errors: list[FieldError] = []
    reader = _Reader(item, f"{prefix}.", errors)
    name = reader.string("name", required=True)
    if name:
        _check_name(name, reader.path("name"), errors)
    elif "name" in item and isinstance(item["name"], str):
        reader.fail("name", "must not be blank", name)
    itype = reader.string("type", required=True)
    if itype and itype not in catalog.types:
        reader.fail("type", f"unknown integration type {itype!r}", itype)
    elif not itype and isinstance(item.get("type"), str):
        reader.fail("type", "must not be blank", itype)
    category = _category(reader, catalog)
    known = itype in catalog.types
    own = catalog.types[itype].category if known else None
    if own and category and category != own:
        reader.fail("category", f"type {itype} is of category {catalog.types[itype].category}", category)
    description = reader.string("description")
    enabled = reader.boolean("enabled", True)
    configuration = reader.mapping("configuration")
    tags = reader.tags("tags")
    apis = _bulk_apis(item.get("apis"), name, f"{prefix}.apis", errors)
    if errors:
        return None, errors
    provider = ProviderInput(
        name=name,
        type=itype,
        category=category or own or "",
        description=description,
        enabled=enabled,
        configuration=configuration,
        # The bulk call saves the provider as sent: its tag list replaces the stored one.
        tags=tags,
        apis=apis,
    )
    return provider, errors


def _bulk_apis(value: Any, name: str, path: str, errors: list[FieldError]) -> tuple[BulkApi, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(FieldError(path, "must be a JSON array", value))
        return ()
    apis: list[BulkApi] = []
    for i, item in enumerate(value):
        item_path = f"{path}[{i}]"
        if not isinstance(item, dict):
            errors.append(FieldError(item_path, "must be a JSON object", item))
            continue
        reader = _Reader(item, f"{item_path}.", errors)
        integration_name = item.get("integrationName")
        if integration_name != name:
            reader.fail("integrationName", f"must equal the enclosing name {name!r}", integration_name)
        api = reader.string("api", required=True)
        if api:
            _check_name(api, reader.path("api"), errors)
        elif isinstance(item.get("api"), str):
            reader.fail("api", "must not be blank", api)
        apis.append(BulkApi(api, reader.string("description"), reader.boolean("enabled", True)))
    return tuple(apis)

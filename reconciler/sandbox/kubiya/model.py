"""The Kubiya emulator's request bodies: the vendor's pydantic request models, field for field
(so that 422 bodies are FastAPI's own), and what PostgreSQL could not store.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, Field

# --- Models: the vendor's request models, field for field -------------------------------------


class CustomIntegrationStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"


class FileConfig(BaseModel):
    path: str
    content: str | None = None
    secret_ref: str | None = None
    mode: str | None = "0644"
    description: str | None = None


class ConnectionTest(BaseModel):
    enabled: bool = True
    command: str
    timeout: int = 5


class CustomIntegrationConfig(BaseModel):
    env_vars: dict[str, str] = Field(default_factory=dict)
    secrets: list[str] = Field(default_factory=list)
    files: list[FileConfig] = Field(default_factory=list)
    context_prompt: str | None = None
    connection_test: ConnectionTest | None = None


class CreateCustomIntegrationRequest(BaseModel):
    name: str = Field(..., min_length=1, max_length=255)
    integration_type: str = Field(..., min_length=1, max_length=100)
    description: str | None = None
    config: CustomIntegrationConfig
    tags: list[str] = Field(default_factory=list)


class UpdateCustomIntegrationRequest(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=255)
    integration_type: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = None
    config: CustomIntegrationConfig | None = None
    status: CustomIntegrationStatus | None = None
    tags: list[str] | None = None


def storable(value: Any) -> bool:
    """False when PostgreSQL would refuse a string inside `value` (NUL, lone surrogate)."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable(v) for v in value)
    return True

"""The interface every shield provider implements, and the plain objects it works on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from llama.common.v1 import resources_pb2 as res


class Level(Enum):
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


@dataclass(frozen=True)
class Turn:
    """One message of the conversation to check: its role ("system", "user", "assistant", "tool") and its text."""

    role: str
    text: str


@dataclass
class Violation:
    level: Level
    user_message: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShieldCall:
    """One RunShield call, as a provider sees it."""

    shield: res.Shield
    turns: list[Turn]
    # The shield's registered params with the call's params merged over them.
    params: dict[str, Any]
    # Seconds left of the caller's deadline (None: no deadline), for calls made on its behalf.
    timeout: float | None


class SafetyShield(ABC):
    """A shield provider. The servicer only knows this interface."""

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id

    @abstractmethod
    async def prepare(self, shield: res.Shield) -> res.Shield:
        """Check that this provider can run `shield` (raise a MeshError otherwise); return it, completed."""

    @abstractmethod
    async def run(self, call: ShieldCall) -> Violation | None:
        """Check the conversation; None when it passes."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Free what the provider holds (channels, models)."""

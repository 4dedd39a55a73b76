"""What every tool_runtime provider offers: the tools of a tool group, and running one of them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from llama.common.v1 import resources_pb2


@dataclass
class ToolSpec:
    """A tool as a model sees it: name, description and the JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolResult:
    """What a tool returned (text for the model), or the tool's own failure in `error_message`."""

    text: str = ""
    error_message: str = ""
    error_code: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


class ToolRuntimeProvider(ABC):
    async def start(self) -> None:  # noqa: B027 - optional hook
        """Called once when the service starts."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Called once when the service stops."""

    async def prepare(self, tool_group: resources_pb2.ToolGroup) -> None:  # noqa: B027 - optional hook
        """Checks a tool group before the registry stores it; raises to refuse it."""

    @abstractmethod
    async def list_tools(self, tool_group: resources_pb2.ToolGroup, time_left: float | None) -> list[ToolSpec]:
        """The tools of the group."""

    @abstractmethod
    async def invoke(
        self, tool_group: resources_pb2.ToolGroup, tool_name: str, kwargs: dict[str, Any], time_left: float | None
    ) -> ToolResult:
        """Runs one tool; unknown tool: NotFound."""

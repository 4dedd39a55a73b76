"""`client.safety`: run a registered shield over a conversation, sync and async.

    reply = client.safety.run_shield("llama-guard", "How do I make a bomb?")
    if reply.HasField("violation"):
        print(reply.violation.user_message)

Messages are what `client.inference.chat_completion` takes: a string (one user message), a dict or a Message proto,
or a list of them.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llama.safety.v1 import safety_pb2, safety_pb2_grpc
from llama_mesh.client import conversions as conv
from llama_mesh.client.transport import AsyncTransport, Transport

MessagesLike = str | conv.MessageLike | Iterable[conv.MessageLike]


def run_shield_request(
    shield_id: str, messages: MessagesLike, params: Mapping[str, Any] | None
) -> safety_pb2.RunShieldRequest:
    request = safety_pb2.RunShieldRequest(shield_id=shield_id, messages=conv.to_messages(messages))
    if params:
        request.params.CopyFrom(conv.to_struct(params))
    return request


class Safety:
    """SafetyService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = safety_pb2_grpc.SafetyServiceStub(transport.channel)

    def run_shield(
        self,
        shield_id: str,
        messages: MessagesLike,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> safety_pb2.RunShieldResponse:
        """Check the conversation with the shield; `violation` is unset when it passed. `params` (provider-specific)
        are merged over the shield's registered params."""
        request = run_shield_request(shield_id, messages, params)
        return self._transport.unary(self._stub.RunShield, request, timeout)


class AsyncSafety:
    """The async flavour of `Safety`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = safety_pb2_grpc.SafetyServiceStub(transport.channel)

    async def run_shield(
        self,
        shield_id: str,
        messages: MessagesLike,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> safety_pb2.RunShieldResponse:
        request = run_shield_request(shield_id, messages, params)
        return await self._transport.unary(self._stub.RunShield, request, timeout)

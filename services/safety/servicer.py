"""llama.safety.v1.SafetyService: validates the request, hands it to the shield's provider, converts the answer."""

from __future__ import annotations

from google.protobuf import struct_pb2

from llama.common.v1 import resources_pb2, safety_violation_pb2
from llama.safety.v1 import safety_pb2, safety_pb2_grpc
from llama_mesh.resources import resolved_resource
from llama_mesh.runtime.channels import remaining_timeout
from services.safety.conversation import merged_params, parse_turns
from services.safety.provider import Level, ShieldCall, Violation
from services.safety.providers import ShieldProviders

_LEVELS = {
    Level.INFO: safety_violation_pb2.VIOLATION_LEVEL_INFO,
    Level.WARN: safety_violation_pb2.VIOLATION_LEVEL_WARN,
    Level.ERROR: safety_violation_pb2.VIOLATION_LEVEL_ERROR,
}


def violation_message(violation: Violation) -> safety_violation_pb2.SafetyViolation:
    metadata = struct_pb2.Struct()
    metadata.update(violation.metadata)
    return safety_violation_pb2.SafetyViolation(
        violation_level=_LEVELS[violation.level], user_message=violation.user_message, metadata=metadata
    )


class SafetyServicer(safety_pb2_grpc.SafetyServiceServicer):
    def __init__(self, providers: ShieldProviders) -> None:
        self._providers = providers

    async def RunShield(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        turns = parse_turns(request)
        shield = resolved_resource(context, resources_pb2.Shield, request.shield_id, "safety")
        provider = self._providers.get(shield.provider_id)
        call = ShieldCall(
            shield=shield,
            turns=turns,
            params=merged_params(shield.params, request.params),
            timeout=remaining_timeout(context),
        )
        violation = await provider.run(call)
        if violation is None:
            return safety_pb2.RunShieldResponse()
        return safety_pb2.RunShieldResponse(violation=violation_message(violation))

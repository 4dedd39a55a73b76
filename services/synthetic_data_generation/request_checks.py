"""The size checks of a request (the caps of the contract, or the lower ones configured), made before any work."""

from __future__ import annotations

from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama_mesh.runtime.errors import InvalidArgument
from services.synthetic_data_generation.config import SynthesisConfig


def checked_size(request: pb.SynthesizeDataRequest, config: SynthesisConfig) -> int:
    """Candidates per dialog, after checking dialogs and num_candidates against the caps."""
    if not request.dialogs:
        raise InvalidArgument("dialogs", "at least one dialog is required")
    if len(request.dialogs) > config.max_dialogs:
        raise InvalidArgument(
            "dialogs",
            f"{len(request.dialogs)} dialogs; at most {config.max_dialogs} per request",
            limit=config.max_dialogs,
        )
    for index, dialog in enumerate(request.dialogs):
        if not dialog.messages:
            raise InvalidArgument(f"dialogs[{index}].messages", "at least one message is required")
    num_candidates = request.num_candidates if request.HasField("num_candidates") else 1
    if not 1 <= num_candidates <= config.max_candidates_per_dialog:
        raise InvalidArgument(
            "num_candidates",
            f"must be in [1, {config.max_candidates_per_dialog}], got {num_candidates}",
            limit=config.max_candidates_per_dialog,
        )
    total = len(request.dialogs) * num_candidates
    if total > config.max_total_candidates:
        raise InvalidArgument(
            "num_candidates",
            f"{len(request.dialogs)} dialogs x {num_candidates} candidates = {total}; at most "
            f"{config.max_total_candidates} candidates per request (send the dialogs in several requests)",
            limit=config.max_total_candidates,
        )
    return num_candidates

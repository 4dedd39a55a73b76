"""Rows of a Hugging Face dataset through the `datasets` library, where the hub is reachable.

Nothing waits on an unreachable hub: online, the hub's API is probed first with a short timeout; offline
(HF_HUB_OFFLINE / HF_DATASETS_OFFLINE) only the local cache is tried. Either way a dataset that cannot be had is
UNAVAILABLE with the reason, and a load is bounded by the provider's load timeout.
"""

from __future__ import annotations

import asyncio
import logging
import os

import httpx

from llama_mesh.runtime.errors import InvalidArgument, NotFound, Unavailable, without_paths
from services.datasetio.row_values import Row, json_safe
from services.datasetio.sources import URI_FIELD, HuggingFaceSource

_TRUE = {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    return any(os.environ.get(name, "").lower() in _TRUE for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


log = logging.getLogger(__name__)


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


async def probe_hub(source: HuggingFaceSource, timeout_s: float) -> None:
    """UNAVAILABLE when the hub does not answer within `timeout_s`; NOT_FOUND when it has no such dataset."""
    url = f"{hub_endpoint()}/api/datasets/{source.repo}"
    token = os.environ.get("HF_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        # the hub may be a mirror inside the operator's network (HF_ENDPOINT): its address goes to the log only
        log.warning("the Hugging Face hub at %s is not reachable: %s", hub_endpoint(), exc or type(exc).__name__)
        raise Unavailable(
            f"{source.label}: the Hugging Face hub is not reachable from the datasetio service "
            f"({type(exc).__name__}); register a local copy of the dataset (file:// JSONL, CSV or Parquet) instead",
            reason="HUGGINGFACE_UNREACHABLE",
        ) from exc
    if response.status_code in (401, 404):
        raise NotFound(
            f"{source.label}: the hub has no dataset {source.repo!r} this service may read "
            f"(HTTP {response.status_code})",
            reason="HUGGINGFACE_DATASET_NOT_FOUND",
            repo=source.repo,
        )
    if response.status_code >= 500:
        raise Unavailable(
            f"{source.label}: the hub answered HTTP {response.status_code}", reason="HUGGINGFACE_UNREACHABLE"
        )


def _load(source: HuggingFaceSource) -> list[Row]:
    import datasets

    if os.path.lexists(source.repo):
        # load_dataset reads a local file or folder of that name before it asks the hub: never a local one here
        # (file datasets go through file:// and the allowed dirs).
        raise InvalidArgument(
            URI_FIELD,
            f"{source.label}: a local path of that name exists where this service runs; it is not read as a hub "
            "dataset (register local files with file://)",
            reason="HUGGINGFACE_DATASET_INVALID",
        )
    loaded = datasets.load_dataset(source.repo, split=source.split, **source.options)
    return [json_safe(row) for row in loaded.to_list()]


async def huggingface_rows(source: HuggingFaceSource, probe_timeout_s: float, load_timeout_s: float) -> list[Row]:
    offline = hub_offline()
    if not offline:
        await probe_hub(source, probe_timeout_s)
    try:
        return await asyncio.wait_for(asyncio.to_thread(_load, source), load_timeout_s)
    except TimeoutError as exc:
        raise Unavailable(
            f"{source.label}: loading did not finish within {load_timeout_s:g}s", reason="HUGGINGFACE_TIMEOUT"
        ) from exc
    except ValueError as exc:  # e.g. an unknown split or configuration
        if offline:
            raise _offline_error(source, exc) from exc
        raise InvalidArgument(
            URI_FIELD, f"{source.label}: {without_paths(str(exc))}", reason="HUGGINGFACE_DATASET_INVALID"
        ) from exc
    except (OSError, ConnectionError) as exc:  # not cached offline, or the connection dropped while loading
        if offline:
            raise _offline_error(source, exc) from exc
        raise Unavailable(f"{source.label}: {without_paths(str(exc))}", reason="HUGGINGFACE_UNREACHABLE") from exc


def _offline_error(source: HuggingFaceSource, exc: Exception) -> Unavailable:
    return Unavailable(
        f"{source.label}: the Hugging Face hub is off limits here (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set) and "
        f"the dataset is not in the local cache ({type(exc).__name__}); register a local copy of the dataset "
        "(file:// JSONL, CSV or Parquet) instead",
        reason="HUGGINGFACE_UNREACHABLE",
    )

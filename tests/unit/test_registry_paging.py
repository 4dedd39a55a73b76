"""The registry's List* paging uses the shared paging module: a token it did not hand out is INVALID_ARGUMENT, never
silently the first page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.registry_servicer import Registry
from gateway.registry_store import SqliteRegistryStore
from llama.common.v1 import resources_pb2 as res
from llama_mesh.resources import KIND_BY_NAME
from llama_mesh.runtime.config import load_run_config
from llama_mesh.runtime.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[2]
SCORING = KIND_BY_NAME["scoring_function"]


async def _pages(tmp_path: Path, token: str | None) -> list[list[str]]:
    config = load_run_config(ROOT / "distributions" / "local-cpu" / "run.yaml", {"LLAMA_MESH_DATA_DIR": str(tmp_path)})
    store = SqliteRegistryStore(tmp_path / "registry.db")
    await store.open()
    try:
        registry = Registry(store, config)
        for name in ("a", "b", "c"):
            function = res.ScoringFunction(
                identifier=f"fn-{name}", provider_id="basic", provider_resource_id="basic::equality"
            )
            await registry.register(SCORING, function, prepare=False)
        if token is not None:
            await registry.page(SCORING, 2, token)
        pages, token = [], ""
        while True:
            items, token = await registry.page(SCORING, 2, token)
            pages.append([item.identifier for item in items])
            if not token:
                return pages
    finally:
        await store.close()


def test_pages_follow_each_other(tmp_path: Path) -> None:
    assert asyncio.run(_pages(tmp_path, None)) == [["fn-a", "fn-b"], ["fn-c"]]


@pytest.mark.parametrize("token", ["!!!", "Zm4tYQ==", "x" * 5000])
def test_a_token_the_registry_did_not_hand_out_is_refused(tmp_path: Path, token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        asyncio.run(_pages(tmp_path, token))
    assert caught.value.field == "page_token"

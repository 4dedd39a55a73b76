"""/v1/vector_stores' file batches and updates through the official `openai` SDK against the edge of the session's
local-cpu mesh: `upload_and_poll` and `create_and_poll` end with files that search finds, cancel stops the files not
yet added, a batch is its creator's alone, a bad batch is refused naming its parameter before anything is created; a
store is renamed, a file's new attributes are what search filters on, and metadata or attributes past OpenAI's caps,
or attributes named as the keys the mesh writes into a file's chunks, change nothing."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from llama_mesh.openai_caps import RESERVED_ATTRIBUTES
from services.openai_edge.routes.vector_stores import MAX_FILE_IDS
from tests.mesh.helpers import PAST_ATTRIBUTE_CAPS, PAST_METADATA_CAPS, refused

LANTERNS = "The lighthouse keeper of Port Quillon keeps exactly forty-two brass lanterns."
FERRY = "The ferry to Isle Marrow leaves at seven bells and carries nine grey goats."


@pytest.fixture(scope="module")
def other_client(edge_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=edge_url, api_key="another-caller", max_retries=0, timeout=600) as sdk:
        yield sdk


def _upload(client: openai.OpenAI, name: str, text: str) -> str:
    return client.files.create(file=(name, io.BytesIO(text.encode())), purpose="assistants").id


def _best_file(client: openai.OpenAI, store_id: str, query: str, **options: object) -> str:
    results = client.vector_stores.search(store_id, query=query, max_num_results=3, **options)  # type: ignore[arg-type]  # filters as a plain dict
    return results.data[0].file_id


def test_upload_and_poll_adds_two_files_that_search_finds(client: openai.OpenAI, tmp_path: Path) -> None:
    (tmp_path / "lanterns.txt").write_text(f"Notes on the coast.\n\n{LANTERNS}\n")
    (tmp_path / "ferry.txt").write_text(f"Notes on the islands.\n\n{FERRY}\n")
    store = client.vector_stores.create(name="batch upload")
    with (tmp_path / "lanterns.txt").open("rb") as lanterns, (tmp_path / "ferry.txt").open("rb") as ferry:
        batch = client.vector_stores.file_batches.upload_and_poll(
            vector_store_id=store.id, files=[lanterns, ferry], poll_interval_ms=100
        )
    assert batch.object == "vector_store.files_batch" and batch.vector_store_id == store.id
    assert batch.status == "completed", batch
    assert (batch.file_counts.completed, batch.file_counts.total) == (2, 2)
    files = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    names = {file.id: client.files.retrieve(file.id).filename for file in files}
    assert sorted(names.values()) == ["ferry.txt", "lanterns.txt"]
    by_name = {name: file_id for file_id, name in names.items()}
    assert _best_file(client, store.id, "How many brass lanterns are kept?") == by_name["lanterns.txt"]
    assert _best_file(client, store.id, "When does the ferry to Isle Marrow leave?") == by_name["ferry.txt"]
    assert client.vector_stores.retrieve(store.id).file_counts.completed == 2
    client.vector_stores.delete(store.id)


def test_create_and_poll_with_uploaded_files_and_their_own_attributes(client: openai.OpenAI) -> None:
    lanterns, ferry = _upload(client, "lanterns.txt", LANTERNS), _upload(client, "ferry.txt", FERRY)
    store = client.vector_stores.create(name="batch of uploaded files")
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id,
        files=[
            {"file_id": lanterns, "attributes": {"topic": "coast"}},
            {"file_id": ferry, "attributes": {"topic": "islands"}},
        ],
        poll_interval_ms=100,
    )
    assert batch.status == "completed" and batch.file_counts.completed == 2, batch
    assert client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id).status == "completed"
    first = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id, limit=1, order="asc")
    assert [file.id for file in first.data] == [lanterns] and first.has_more
    assert first.data[0].attributes == {"topic": "coast"}
    rest = client.vector_stores.file_batches.list_files(
        batch.id, vector_store_id=store.id, limit=1, order="asc", after=lanterns
    )
    assert [file.id for file in rest.data] == [ferry] and not rest.has_more
    none_failed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id, filter="failed")
    assert none_failed.data == []
    islands = {"type": "eq", "key": "topic", "value": "islands"}
    assert _best_file(client, store.id, "How many brass lanterns are kept?", filters=islands) == ferry
    client.vector_stores.delete(store.id)


def test_a_cancelled_batch_adds_nothing_more(client: openai.OpenAI) -> None:
    text = f"{LANTERNS}\n\n" * 300
    file_ids = [_upload(client, f"lanterns-{index}.txt", text) for index in range(6)]
    store = client.vector_stores.create(name="cancelled batch")
    batch = client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=file_ids)
    assert batch.status == "in_progress" and batch.file_counts.in_progress == 6
    # The files are added one at a time: the last ones have not started when the cancel arrives.
    cancelled = client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.in_progress == 0, cancelled
    counts = cancelled.file_counts
    assert counts.cancelled >= 1 and counts.completed + counts.cancelled == counts.total == 6, counts
    polled = client.vector_stores.file_batches.poll(batch.id, vector_store_id=store.id, poll_interval_ms=100)
    assert polled.file_counts == cancelled.file_counts
    listed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id, filter="cancelled")
    assert len(listed.data) == cancelled.file_counts.cancelled
    completed = {file.id for file in client.vector_stores.files.list(store.id, filter="completed")}

    # A file added after the cancel: once it is in, the insert under way at the cancel has ended, and its chunks go.
    twin = _upload(client, "twin.txt", text)
    added = client.vector_stores.files.create_and_poll(file_id=twin, vector_store_id=store.id, poll_interval_ms=100)
    assert added.status == "completed", added.last_error
    deadline = time.monotonic() + 120
    while True:
        results = client.vector_stores.search(store.id, query="How many brass lanterns?", max_num_results=50)
        found = {result.file_id for result in results.data}
        if found <= completed | {twin}:
            break
        assert time.monotonic() < deadline, f"chunks of cancelled files still found: {found - completed - {twin}}"
    assert twin in found
    client.vector_stores.delete(store.id)


def test_a_file_removed_from_the_store_leaves_its_batch(client: openai.OpenAI) -> None:
    busy = [_upload(client, f"lanterns-{index}.txt", f"{LANTERNS}\n\n" * 200) for index in range(2)]
    ferry = _upload(client, "ferry.txt", FERRY)
    store = client.vector_stores.create(name="removed from a batch")
    batch = client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=[*busy, ferry])
    assert client.vector_stores.files.delete(ferry, vector_store_id=store.id).deleted  # before its turn
    ended = client.vector_stores.file_batches.poll(batch.id, vector_store_id=store.id, poll_interval_ms=100)
    assert ended.status == "completed" and (ended.file_counts.completed, ended.file_counts.total) == (2, 2), ended
    listed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id, order="asc")
    assert [file.id for file in listed] == busy
    results = client.vector_stores.search(store.id, query="When does the ferry to Isle Marrow leave?")
    assert ferry not in {result.file_id for result in results.data}
    client.vector_stores.delete(store.id)


def test_a_batch_is_its_creators_alone(client: openai.OpenAI, other_client: openai.OpenAI) -> None:
    mine = _upload(client, "lanterns.txt", LANTERNS)
    store = client.vector_stores.create(name="mine")
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=[mine], poll_interval_ms=100
    )
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=[mine])

    theirs = other_client.vector_stores.create(name="theirs")
    with pytest.raises(openai.NotFoundError) as caught:  # my file in their store
        other_client.vector_stores.file_batches.create(vector_store_id=theirs.id, file_ids=[mine])
    assert caught.value.param == "file_ids" and mine in caught.value.message
    assert other_client.vector_stores.retrieve(theirs.id).file_counts.total == 0
    with pytest.raises(openai.NotFoundError) as caught:  # my batch under their store
        other_client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=theirs.id)
    assert caught.value.param == "batch_id"
    other_client.vector_stores.delete(theirs.id)
    client.vector_stores.delete(store.id)


def test_a_bad_batch_is_refused_naming_its_parameter_and_creates_nothing(client: openai.OpenAI) -> None:
    good, other = _upload(client, "lanterns.txt", LANTERNS), _upload(client, "ferry.txt", FERRY)
    store = client.vector_stores.create(name="refusals")
    batches = client.vector_stores.file_batches

    with pytest.raises(openai.NotFoundError) as not_found:
        batches.create(vector_store_id=store.id, file_ids=[good, "file-none"])
    assert not_found.value.param == "file_ids" and "file-none" in not_found.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        batches.create(vector_store_id=store.id, file_ids=[good] * (MAX_FILE_IDS + 1))
    assert bad.value.param == "file_ids" and str(MAX_FILE_IDS) in bad.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        batches.create(vector_store_id=store.id, file_ids=[good, other, good])
    assert bad.value.param == "file_ids" and good in bad.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        batches.create(vector_store_id=store.id, files=[{"file_id": other}, {"file_id": other}])
    assert bad.value.param == "files" and other in bad.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        batches.create(vector_store_id=store.id, file_ids=[good], files=[{"file_id": other}])
    assert bad.value.param == "file_ids"
    with pytest.raises(openai.BadRequestError) as bad:
        batches.create(vector_store_id=store.id)
    assert bad.value.param == "file_ids"
    with pytest.raises(openai.BadRequestError) as bad:
        batches.create(vector_store_id=store.id, files=[{"file_id": other}], attributes={"topic": "x"})
    assert bad.value.param == "attributes"
    assert client.vector_stores.retrieve(store.id).file_counts.total == 0
    assert client.vector_stores.files.list(store.id).data == []

    client.vector_stores.files.create_and_poll(file_id=good, vector_store_id=store.id, poll_interval_ms=100)
    with pytest.raises(openai.ConflictError) as conflict:  # already in the store
        batches.create(vector_store_id=store.id, file_ids=[other, good])
    assert conflict.value.param == "file_ids" and good in conflict.value.message
    assert [file.id for file in client.vector_stores.files.list(store.id)] == [good]
    with pytest.raises(openai.NotFoundError) as not_found:
        batches.retrieve("vsfb_none", vector_store_id=store.id)
    assert not_found.value.param == "batch_id"
    client.vector_stores.delete(store.id)


def test_a_store_is_renamed_and_its_metadata_replaced(client: openai.OpenAI, other_client: openai.OpenAI) -> None:
    store = client.vector_stores.create(name="before", metadata={"team": "coast"})
    renamed = client.vector_stores.update(store.id, name="after")
    assert (renamed.name, renamed.metadata) == ("after", {"team": "coast"})
    client.vector_stores.update(store.id, metadata={"team": "islands"})
    assert client.vector_stores.retrieve(store.id).metadata == {"team": "islands"}
    with pytest.raises(openai.BadRequestError) as bad:
        client.vector_stores.update(store.id, expires_after={"anchor": "last_active_at", "days": 1})
    assert bad.value.param == "expires_after"
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.update(store.id, name="theirs")
    assert client.vector_stores.retrieve(store.id).name == "after"
    client.vector_stores.delete(store.id)


def test_new_attributes_are_what_search_filters_on(client: openai.OpenAI, other_client: openai.OpenAI) -> None:
    lanterns = _upload(client, "lanterns.txt", LANTERNS)
    store = client.vector_stores.create(name="attributes")
    client.vector_stores.files.create_and_poll(
        file_id=lanterns, vector_store_id=store.id, attributes={"topic": "coast"}, poll_interval_ms=100
    )
    updated = client.vector_stores.files.update(lanterns, vector_store_id=store.id, attributes={"topic": "islands"})
    assert updated.attributes == {"topic": "islands"}
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.files.update(lanterns, vector_store_id=store.id, attributes={"topic": "theirs"})
    added = client.vector_stores.files.poll(lanterns, vector_store_id=store.id, poll_interval_ms=100)
    assert added.status == "completed" and added.attributes == {"topic": "islands"}, added.last_error
    query = "How many brass lanterns are kept?"
    islands = {"type": "eq", "key": "topic", "value": "islands"}
    assert _best_file(client, store.id, query, filters=islands) == lanterns
    coast = {"type": "eq", "key": "topic", "value": "coast"}
    assert client.vector_stores.search(store.id, query=query, filters=coast).data == []  # type: ignore[arg-type]  # filters as a plain dict

    busy = _upload(client, "busy.txt", f"{LANTERNS}\n\n" * 200)
    assert client.vector_stores.files.create(vector_store_id=store.id, file_id=busy).status == "in_progress"
    with pytest.raises(openai.ConflictError) as conflict:
        client.vector_stores.files.update(busy, vector_store_id=store.id, attributes={"topic": "x"})
    assert conflict.value.param == "file_id"
    client.vector_stores.delete(store.id)


def test_metadata_and_attributes_past_openai_caps_are_400s_that_change_nothing(client: openai.OpenAI) -> None:
    lanterns, ferry = _upload(client, "lanterns.txt", LANTERNS), _upload(client, "ferry.txt", FERRY)
    store = client.vector_stores.create(name="caps", metadata={"team": "coast"})
    files, batches = client.vector_stores.files, client.vector_stores.file_batches
    files.create_and_poll(
        file_id=lanterns, vector_store_id=store.id, attributes={"topic": "coast"}, poll_interval_ms=100
    )
    stores = {item.id for item in client.vector_stores.list()}
    for metadata in PAST_METADATA_CAPS.values():
        refused("metadata", client.vector_stores.create, name="refused", metadata=metadata)
        refused("metadata", client.vector_stores.update, vector_store_id=store.id, metadata=metadata)
    for attributes in PAST_ATTRIBUTE_CAPS.values():
        refused("attributes", files.create, vector_store_id=store.id, file_id=ferry, attributes=attributes)
        refused("attributes", files.update, vector_store_id=store.id, file_id=lanterns, attributes=attributes)
        refused("attributes", batches.create, vector_store_id=store.id, file_ids=[ferry], attributes=attributes)
        own = [{"file_id": ferry, "attributes": attributes}]
        refused("files[0].attributes", batches.create, vector_store_id=store.id, files=own)

    assert {item.id for item in client.vector_stores.list()} == stores
    kept = client.vector_stores.retrieve(store.id)
    assert (kept.metadata, kept.file_counts.total) == ({"team": "coast"}, 1)
    (only,) = files.list(store.id).data
    assert (only.id, only.status, only.attributes) == (lanterns, "completed", {"topic": "coast"})
    client.vector_stores.delete(store.id)


def test_attributes_named_as_the_meshs_chunk_keys_are_400s_that_change_nothing(client: openai.OpenAI) -> None:
    """A file's attributes are its chunks' metadata, where the mesh writes file_id, filename, document_id and
    chunk_index itself: an attribute of one of those names would be silently replaced (and a filter on it match the
    mesh's value), so it is refused, naming the key."""
    lanterns, ferry = _upload(client, "lanterns.txt", LANTERNS), _upload(client, "ferry.txt", FERRY)
    store = client.vector_stores.create(name="reserved")
    files, batches = client.vector_stores.files, client.vector_stores.file_batches
    files.create_and_poll(
        file_id=lanterns, vector_store_id=store.id, attributes={"topic": "coast"}, poll_interval_ms=100
    )
    for key in RESERVED_ATTRIBUTES:
        mine, says = {"topic": "islands", key: "mine"}, f"{key!r} is reserved"
        refused("attributes", files.create, says, vector_store_id=store.id, file_id=ferry, attributes=mine)
        refused("attributes", files.update, says, vector_store_id=store.id, file_id=lanterns, attributes=mine)
        refused("attributes", batches.create, says, vector_store_id=store.id, file_ids=[ferry], attributes=mine)
        own = [{"file_id": ferry, "attributes": mine}]
        refused("files[0].attributes", batches.create, says, vector_store_id=store.id, files=own)

    assert client.vector_stores.retrieve(store.id).file_counts.total == 1
    (only,) = files.list(store.id).data
    assert (only.id, only.status, only.attributes) == (lanterns, "completed", {"topic": "coast"})
    coast = {"type": "eq", "key": "topic", "value": "coast"}
    assert _best_file(client, store.id, "How many brass lanterns are kept?", filters=coast) == lanterns
    client.vector_stores.delete(store.id)

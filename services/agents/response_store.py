"""Responses (with their input items and context) and conversations (with their items) in SQLite, one protobuf blob
per record, each with its owner (see llama_mesh.runtime.caller). Blocking: called through `asyncio.to_thread`.

Item lists page by insertion order (`seq`), either way; a page token (llama_mesh.runtime.paging) holds the `seq` of
the last item of the page before.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llama.agents.v1 import responses_pb2 as pb
from llama_mesh.runtime import paging
from llama_mesh.runtime.errors import InvalidArgument
from services.agents.sqlite_file import SqliteFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (seq INTEGER PRIMARY KEY AUTOINCREMENT, response_id TEXT UNIQUE NOT NULL,
    owner TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL, input BLOB NOT NULL, context BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT UNIQUE NOT NULL, owner TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS conversation_items (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL, item_id TEXT NOT NULL, body BLOB NOT NULL, UNIQUE (conversation_id, item_id));
"""

Items = list[pb.ResponseItem]


class DuplicateItemId(Exception):
    """An item to add has the id of an item its conversation has (an item id names one item of a conversation)."""

    def __init__(self, item_id: str) -> None:
        super().__init__(item_id)
        self.item_id = item_id


def _item_ids(db: sqlite3.Connection, conversation_id: str) -> set[str]:
    rows = db.execute("SELECT item_id FROM conversation_items WHERE conversation_id = ?", (conversation_id,))
    return {item_id for (item_id,) in rows}


def _pack(items: Items) -> bytes:
    return pb.ListResponseInputItemsResponse(items=items).SerializeToString()


def _unpack(blob: bytes) -> Items:
    return list(pb.ListResponseInputItemsResponse.FromString(blob).items)


def _mine(owner: str | None) -> tuple[str, tuple[str, ...]]:
    return (" AND owner = ?", (owner,)) if owner is not None else ("", ())


class ResponseStore(SqliteFile):
    def __init__(self, path: Path | str) -> None:
        super().__init__(path, _SCHEMA)

    # ---- responses ----
    def add_response(self, response: pb.Response, owner: str, input_items: Items, context: Items) -> None:
        """Stores a new response with its input items and its context (what a following response reads)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO responses (response_id, owner, status, body, input, context) VALUES (?, ?, ?, ?, ?, ?)",
                (response.id, owner, response.status, response.SerializeToString(), _pack(input_items), _pack(context)),
            )

    def update_response(self, response: pb.Response, context: Items) -> bool:
        """Saves a stored response's status, body and context (its owner and input stay); False, and nothing written,
        when it no longer exists (deleted while it ran): an update never brings a deleted response back."""
        with self._transaction() as db:
            updated = db.execute(
                "UPDATE responses SET status = ?, body = ?, context = ? WHERE response_id = ?",
                (response.status, response.SerializeToString(), _pack(context), response.id),
            )
            return updated.rowcount > 0

    def get_response(self, response_id: str, owner: str | None) -> tuple[pb.Response, Items, Items] | None:
        """The response, its input items and its context, if it exists and (unless owner is None) is owner's."""
        mine, args = _mine(owner)
        with self._lock:
            row = self._db.execute(
                f"SELECT body, input, context FROM responses WHERE response_id = ?{mine}", (response_id, *args)
            ).fetchone()
        if row is None:
            return None
        return pb.Response.FromString(row[0]), _unpack(row[1]), _unpack(row[2])

    def delete_response(self, response_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM responses WHERE response_id = ?", (response_id,))

    def responses_in_progress(self) -> list[pb.Response]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM responses WHERE status = ?", (pb.RESPONSE_STATUS_IN_PROGRESS,)
            ).fetchall()
        return [pb.Response.FromString(body) for (body,) in rows]

    # ---- conversations ----
    def add_conversation(self, conversation: pb.Conversation, owner: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO conversations (conversation_id, owner, body) VALUES (?, ?, ?)",
                (conversation.id, owner, conversation.SerializeToString()),
            )

    def update_conversation(self, conversation: pb.Conversation) -> bool:
        """Saves a stored conversation's body (its owner stays); False, and nothing written, when it no longer
        exists (deleted meanwhile): an update never brings a deleted conversation back."""
        with self._transaction() as db:
            updated = db.execute(
                "UPDATE conversations SET body = ? WHERE conversation_id = ?",
                (conversation.SerializeToString(), conversation.id),
            )
            return updated.rowcount > 0

    def get_conversation(self, conversation_id: str, owner: str | None) -> pb.Conversation | None:
        mine, args = _mine(owner)
        with self._lock:
            row = self._db.execute(
                f"SELECT body FROM conversations WHERE conversation_id = ?{mine}", (conversation_id, *args)
            ).fetchone()
        return pb.Conversation.FromString(row[0]) if row else None

    def delete_conversation(self, conversation_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM conversation_items WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE conversation_id = ?", (conversation_id,))

    def add_items(self, conversation_id: str, items: Items) -> None:
        """Appends items to a conversation, all or none: DuplicateItemId, and nothing added, when one has the id of an
        item it has (checked in the insert's transaction, so whatever another call added meanwhile counts); nothing
        when the conversation no longer exists."""
        with self._transaction() as db:
            taken = _item_ids(db, conversation_id)
            for item in items:
                if item.id in taken:
                    raise DuplicateItemId(item.id)
                taken.add(item.id)
            db.executemany(
                "INSERT INTO conversation_items (conversation_id, item_id, body) SELECT ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM conversations WHERE conversation_id = ?)",
                [(conversation_id, item.id, item.SerializeToString(), conversation_id) for item in items],
            )

    def items(self, conversation_id: str) -> Items:
        """All items of a conversation, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM conversation_items WHERE conversation_id = ? ORDER BY seq", (conversation_id,)
            ).fetchall()
        return [pb.ResponseItem.FromString(body) for (body,) in rows]

    def item_ids(self, conversation_id: str) -> set[str]:
        """The ids of a conversation's items (as many as its items: ids are unique in a conversation)."""
        with self._lock:
            return _item_ids(self._db, conversation_id)

    def get_item(self, conversation_id: str, item_id: str) -> pb.ResponseItem | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM conversation_items WHERE conversation_id = ? AND item_id = ?",
                (conversation_id, item_id),
            ).fetchone()
        return pb.ResponseItem.FromString(row[0]) if row else None

    def delete_item(self, conversation_id: str, item_id: str) -> bool:
        with self._transaction() as db:
            deleted = db.execute(
                "DELETE FROM conversation_items WHERE conversation_id = ? AND item_id = ?", (conversation_id, item_id)
            )
            return deleted.rowcount > 0

    def page_items(self, conversation_id: str, size: int, token: str, ascending: bool, after: str) -> tuple[Items, str]:
        """One page of a conversation's items in either order, from a page token or after an item id."""
        listing = f"conversation_items:{conversation_id}:{'asc' if ascending else 'desc'}"
        position = paging.read_offset(token, listing)
        with self._lock:
            if after:
                row = self._db.execute(
                    "SELECT seq FROM conversation_items WHERE conversation_id = ? AND item_id = ?",
                    (conversation_id, after),
                ).fetchone()
                if row is None:
                    raise InvalidArgument("after", f"{after!r} is not an item of conversation {conversation_id!r}")
                position = row[0]
            compare, order = (">", "ASC") if ascending else ("<", "DESC")
            clause = f" AND seq {compare} ?" if position else ""
            rows = self._db.execute(
                f"SELECT seq, body FROM conversation_items WHERE conversation_id = ?{clause} ORDER BY seq {order} "
                "LIMIT ?",
                (conversation_id, *((position,) if position else ()), size + 1),
            ).fetchall()
        items = [pb.ResponseItem.FromString(body) for _, body in rows[:size]]
        return items, paging.make_token(listing, rows[size - 1][0]) if len(rows) > size else ""

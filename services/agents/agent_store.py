"""Agents, sessions, turns and batch jobs in SQLite, one protobuf blob per record.

Blocking by design: the servicer calls it through `asyncio.to_thread`. Sessions and turns of agents without session
persistence go to a second store in memory (`path=":memory:"`), so both kinds share one code path.
Pages run newest first by insertion order; a page token (llama_mesh.runtime.paging) holds the position after which
the next page starts.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf.message import Message

from llama.agents.v1 import agents_pb2 as pb
from llama.common.v1 import jobs_pb2
from llama_mesh.runtime import paging
from llama_mesh.runtime.owners import ensure_owner_column
from services.agents.sqlite_file import SqliteFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (seq INTEGER PRIMARY KEY AUTOINCREMENT, agent_id TEXT UNIQUE NOT NULL,
    body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (seq INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT UNIQUE NOT NULL,
    agent_id TEXT NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions (agent_id, seq);
CREATE TABLE IF NOT EXISTS turns (seq INTEGER PRIMARY KEY AUTOINCREMENT, turn_id TEXT UNIQUE NOT NULL,
    session_id TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns (session_id, seq);
CREATE TABLE IF NOT EXISTS batch_jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT UNIQUE NOT NULL,
    agent_id TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS batch_results (job_id TEXT NOT NULL, item_index INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (job_id, item_index));
"""

ACTIVE_JOB_STATES = (jobs_pb2.JOB_STATUS_QUEUED, jobs_pb2.JOB_STATUS_RUNNING)


class AgentStore(SqliteFile):
    def __init__(self, path: Path | str) -> None:
        super().__init__(path, _SCHEMA)
        ensure_owner_column(self._db, "agents")  # an agent's sessions, turns and batch jobs are its owner's

    def _one(self, sql: str, args: tuple[object, ...], message: type[Message]) -> Message | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return message.FromString(row[0]) if row else None

    def _page(
        self, table: str, where: str, args: tuple[object, ...], size: int, token: str, message: type[Message]
    ) -> tuple[list[Message], str]:
        listing = ":".join([table, *map(str, args)])
        after = paging.read_offset(token, listing)  # a seq (they start at 1); 0 on the first page
        clause = f"WHERE {where}" + (" AND seq < ?" if after else "")
        params = (*args, after) if after else args
        with self._lock:
            rows = self._db.execute(
                f"SELECT seq, body FROM {table} {clause} ORDER BY seq DESC LIMIT ?", (*params, size + 1)
            ).fetchall()
        items = [message.FromString(body) for _, body in rows[:size]]
        return items, paging.make_token(listing, rows[size - 1][0]) if len(rows) > size else ""

    # ---- agents ----
    def put_agent(self, agent: pb.Agent, owner: str = "") -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO agents (agent_id, body, owner) VALUES (?, ?, ?)",
                (agent.agent_id, agent.SerializeToString(), owner),
            )

    def get_agent(self, agent_id: str, owner: str | None = None) -> pb.Agent | None:
        """The agent, if it exists and (unless `owner` is None) belongs to `owner`."""
        mine, args = (" AND owner = ?", (owner,)) if owner is not None else ("", ())
        return self._one(f"SELECT body FROM agents WHERE agent_id = ?{mine}", (agent_id, *args), pb.Agent)  # type: ignore[return-value]

    def list_agents(self, size: int, token: str, owner: str | None = None) -> tuple[list[pb.Agent], str]:
        where, args = ("owner = ?", (owner,)) if owner is not None else ("1 = 1", ())
        return self._page("agents", where, args, size, token, pb.Agent)  # type: ignore[return-value]

    def delete_agent(self, agent_id: str) -> list[str]:
        """Deletes the agent's record; returns the ids of its sessions (whose turns go with them)."""
        with self._transaction() as db:
            sessions = [row[0] for row in db.execute("SELECT session_id FROM sessions WHERE agent_id = ?", (agent_id,))]
            db.execute(
                "DELETE FROM turns WHERE session_id IN (SELECT session_id FROM sessions WHERE agent_id = ?)",
                (agent_id,),
            )
            db.execute("DELETE FROM sessions WHERE agent_id = ?", (agent_id,))
            db.execute("DELETE FROM agents WHERE agent_id = ?", (agent_id,))
        return sessions

    # ---- sessions (stored without their turns) ----
    def put_session(self, session: pb.Session) -> None:
        bare = pb.Session()
        bare.CopyFrom(session)
        del bare.turns[:]
        with self._transaction() as db:
            db.execute(
                "INSERT INTO sessions (session_id, agent_id, body) VALUES (?, ?, ?)",
                (bare.session_id, bare.agent_id, bare.SerializeToString()),
            )

    def get_session(self, agent_id: str, session_id: str) -> pb.Session | None:
        sql = "SELECT body FROM sessions WHERE session_id = ? AND agent_id = ?"
        return self._one(sql, (session_id, agent_id), pb.Session)  # type: ignore[return-value]

    def list_sessions(self, agent_id: str, size: int, token: str) -> tuple[list[pb.Session], str]:
        return self._page("sessions", "agent_id = ?", (agent_id,), size, token, pb.Session)  # type: ignore[return-value]

    def delete_session(self, session_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))

    # ---- turns ----
    def put_turn(self, turn: pb.Turn) -> None:
        """Inserts or replaces a turn (it is saved after each step)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO turns (turn_id, session_id, status, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (turn_id) DO UPDATE SET status = excluded.status, body = excluded.body",
                (turn.turn_id, turn.session_id, turn.status, turn.SerializeToString()),
            )

    def get_turn(self, session_id: str, turn_id: str) -> pb.Turn | None:
        sql = "SELECT body FROM turns WHERE turn_id = ? AND session_id = ?"
        return self._one(sql, (turn_id, session_id), pb.Turn)  # type: ignore[return-value]

    def turns(self, session_id: str) -> list[pb.Turn]:
        """A session's turns, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM turns WHERE session_id = ? ORDER BY seq", (session_id,))
            return [pb.Turn.FromString(body) for (body,) in rows.fetchall()]

    def turns_in_progress(self) -> list[pb.Turn]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM turns WHERE status = ?", (pb.TURN_STATUS_IN_PROGRESS,))
            return [pb.Turn.FromString(body) for (body,) in rows.fetchall()]

    # ---- batch jobs ----
    def put_job(self, agent_id: str, job: jobs_pb2.Job) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO batch_jobs (job_id, agent_id, status, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, body = excluded.body",
                (job.job_id, agent_id, job.status, job.SerializeToString()),
            )

    def get_job(self, job_id: str) -> jobs_pb2.Job | None:
        return self._one("SELECT body FROM batch_jobs WHERE job_id = ?", (job_id,), jobs_pb2.Job)  # type: ignore[return-value]

    def list_jobs(self, agent_id: str, size: int, token: str) -> tuple[list[jobs_pb2.Job], str]:
        return self._page("batch_jobs", "agent_id = ?", (agent_id,), size, token, jobs_pb2.Job)  # type: ignore[return-value]

    def active_jobs(self) -> list[jobs_pb2.Job]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM batch_jobs WHERE status IN (?, ?)", ACTIVE_JOB_STATES).fetchall()
        return [jobs_pb2.Job.FromString(body) for (body,) in rows]

    def put_result(self, job_id: str, result: pb.AgentBatchItemResult) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO batch_results (job_id, item_index, body) VALUES (?, ?, ?)",
                (job_id, result.index, result.SerializeToString()),
            )

    def results(self, job_id: str, start: int, size: int) -> list[pb.AgentBatchItemResult]:
        """Results in item order from position `start`, at most size + 1 (to tell whether more follow)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM batch_results WHERE job_id = ? ORDER BY item_index LIMIT ? OFFSET ?",
                (job_id, size + 1, start),
            ).fetchall()
        return [pb.AgentBatchItemResult.FromString(body) for (body,) in rows]

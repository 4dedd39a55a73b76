"""The agents store: records round-trip, pages run newest first, deletes cascade, interrupted turns are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama.agents.v1 import agents_pb2 as pb
from llama.common.v1 import agent_config_pb2, jobs_pb2
from llama_mesh.runtime import paging
from llama_mesh.runtime.errors import InvalidArgument
from services.agents.agent_store import AgentStore


@pytest.fixture
def store(tmp_path: Path) -> AgentStore:
    return AgentStore(tmp_path / "agents" / "agents.db")


def agent(agent_id: str) -> pb.Agent:
    return pb.Agent(agent_id=agent_id, agent_config=agent_config_pb2.AgentConfig(model="m", name=agent_id))


def test_agents_page_newest_first_and_tokens_are_checked(store: AgentStore) -> None:
    for index in range(5):
        store.put_agent(agent(f"a{index}"))
    first, token = store.list_agents(2, "")
    second, token2 = store.list_agents(2, token)
    third, token3 = store.list_agents(2, token2)
    assert [a.agent_id for a in first + second + third] == ["a4", "a3", "a2", "a1", "a0"]
    assert token and token2 and token3 == ""
    with pytest.raises(InvalidArgument):
        store.list_agents(2, "not-a-token")


@pytest.mark.parametrize("position", [2**63, 10**30])
def test_a_forged_token_past_sqlites_integers_is_refused_not_an_overflow(store: AgentStore, position: int) -> None:
    store.put_agent(agent("a"))
    forged = paging.make_token("agents", position)  # tokens are opaque, not signed: anyone can write one
    with pytest.raises(InvalidArgument, match="page_token"):
        store.list_agents(2, forged)
    store.put_job("a", jobs_pb2.Job(job_id="j"))
    with pytest.raises(InvalidArgument, match="page_token"):
        store.list_jobs("a", 2, paging.make_token("batch_jobs:a", position))


def test_turns_are_replaced_in_place_and_deleting_an_agent_takes_its_sessions(store: AgentStore) -> None:
    store.put_agent(agent("a"))
    store.put_session(pb.Session(session_id="s", agent_id="a", turns=[pb.Turn(turn_id="ignored")]))
    assert list(store.get_session("a", "s").turns) == []  # stored without its turns
    assert store.get_session("other-agent", "s") is None
    store.put_turn(pb.Turn(turn_id="t1", session_id="s", status=pb.TURN_STATUS_IN_PROGRESS))
    store.put_turn(pb.Turn(turn_id="t2", session_id="s", status=pb.TURN_STATUS_IN_PROGRESS))
    store.put_turn(pb.Turn(turn_id="t1", session_id="s", status=pb.TURN_STATUS_COMPLETED))
    assert [(t.turn_id, t.status) for t in store.turns("s")] == [
        ("t1", pb.TURN_STATUS_COMPLETED),
        ("t2", pb.TURN_STATUS_IN_PROGRESS),
    ]
    assert [t.turn_id for t in store.turns_in_progress()] == ["t2"]
    assert store.delete_agent("a") == ["s"]
    assert store.get_agent("a") is None and store.get_session("a", "s") is None and store.turns("s") == []


def test_jobs_and_results_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "agents.db"
    store = AgentStore(path)
    job = jobs_pb2.Job(job_id="j", status=jobs_pb2.JOB_STATUS_RUNNING)
    store.put_job("a", job)
    for index in (1, 0, 2):
        store.put_result("j", pb.AgentBatchItemResult(index=index, session_id=f"s{index}"))
    store.close()
    again = AgentStore(path)
    assert [j.job_id for j in again.active_jobs()] == ["j"]
    assert [r.index for r in again.results("j", 0, 2)] == [0, 1, 2]  # size + 1 tells that more follow
    assert [r.index for r in again.results("j", 2, 2)] == [2]

"""`Agent`: an agent of the mesh whose client tools are Python functions, run when the model calls them.

    @client_tool
    def get_weather(city: str) -> str:
        \"\"\"The current weather in a city.\"\"\"
        return f"Sunny in {city}"

    agent = Agent(client, model="smollm2-135m-instruct", instructions="Answer briefly.",
                  tools=[get_weather, {"name": "builtin::rag/knowledge_search", "args": {"vector_db_ids": ["docs"]}}],
                  sampling={"max_tokens": 64})
    session_id = agent.create_session("demo")
    for event in agent.create_turn("What is the weather in Paris?", session_id):
        EventLogger().handle(event)
    turn = agent.create_turn("And in Rome?", session_id, stream=False)

`tools` mixes client tools (`@client_tool` functions, or plain typed functions) and server tool groups (a registered
tool group id, "group/tool" for one tool of it, a dict {"name", "args", "tool_names"} or an AgentToolGroup). When a
turn stops awaiting input, the agent runs the functions the model called and resumes the turn with their results,
again and again until the turn completes or `max_client_rounds` resumptions were made (the turn then stays
AWAITING_INPUT). Streams yield `CreateTurnResponse` events, the resumed ones included (converted: same fields).
`AsyncAgent` is the same over `AsyncLlamaMeshClient`: `agent = await AsyncAgent.create(client, ...)`.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

from llama.agents.v1 import agents_pb2 as pb
from llama.common.v1 import agent_config_pb2, content_pb2, sampling_pb2
from llama_mesh.client.agent_requests import DocumentLike, ToolGroupLike, agent_config, as_turn_event
from llama_mesh.client.client_tools import ClientTool, as_client_tool
from llama_mesh.client.conversions import ResponseFormatLike, ToolChoiceLike

if TYPE_CHECKING:
    from llama_mesh.client.client import AsyncLlamaMeshClient, LlamaMeshClient

ToolLike = ClientTool | Callable[..., Any] | ToolGroupLike
DEFAULT_MAX_CLIENT_ROUNDS = 10


def _split_tools(tools: Iterable[ToolLike]) -> tuple[dict[str, ClientTool], list[ToolGroupLike]]:
    functions: dict[str, ClientTool] = {}
    groups: list[ToolGroupLike] = []
    for tool in tools:
        if isinstance(tool, str | Mapping | agent_config_pb2.AgentToolGroup):
            groups.append(tool)
            continue
        if not callable(tool):
            raise TypeError(f"a tool must be a function, a ClientTool or a tool group, got {type(tool).__name__}")
        function = as_client_tool(tool)
        if function.name in functions:
            raise ValueError(f"two client tools are named {function.name!r}")
        functions[function.name] = function
    return functions, groups


class _AgentBase:
    def __init__(
        self,
        model: str,
        instructions: str = "",
        *,
        tools: Iterable[ToolLike] = (),
        input_shields: Iterable[str] = (),
        output_shields: Iterable[str] = (),
        sampling: sampling_pb2.SamplingParams | Mapping[str, Any] | None = None,
        max_infer_iters: int | None = None,
        tool_choice: ToolChoiceLike | None = None,
        tool_prompt_format: str | int | None = None,
        response_format: ResponseFormatLike | None = None,
        name: str = "",
        enable_session_persistence: bool = False,
        max_client_rounds: int = DEFAULT_MAX_CLIENT_ROUNDS,
    ) -> None:
        self.client_tools, groups = _split_tools(tools)
        self.config = agent_config(
            model,
            instructions=instructions,
            name=name,
            sampling=sampling,
            toolgroups=groups,
            client_tools=[tool.definition for tool in self.client_tools.values()],
            input_shields=input_shields,
            output_shields=output_shields,
            tool_choice=tool_choice,
            tool_prompt_format=tool_prompt_format,
            max_infer_iters=max_infer_iters,
            response_format=response_format,
            enable_session_persistence=enable_session_persistence,
        )
        if max_client_rounds < 0:
            raise ValueError("max_client_rounds must be >= 0")
        self.max_client_rounds = max_client_rounds
        self.agent_id = ""

    def _pending(self, turn: pb.Turn) -> list[Any]:
        """The calls of this agent's client tools the turn waits on."""
        return [call for call in turn.output_message.tool_calls if call.tool_name in self.client_tools]

    @staticmethod
    def _answer(call: Any, text: str) -> pb.ToolResponse:
        return pb.ToolResponse(call_id=call.call_id, tool_name=call.tool_name, content=content_pb2.Content(text=text))


class Agent(_AgentBase):
    """Creates the agent on the gateway at once (`agent_id`); see the module's docstring."""

    def __init__(
        self,
        client: LlamaMeshClient,
        model: str,
        instructions: str = "",
        *,
        tools: Iterable[ToolLike] = (),
        timeout: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, instructions, tools=tools, **options)
        self.client = client
        self.agent_id = client.agents.create(self.config, timeout=timeout).agent_id

    @classmethod
    def create(
        cls,
        client: LlamaMeshClient,
        model: str,
        instructions: str = "",
        *,
        tools: Iterable[ToolLike] = (),
        timeout: float | None = None,
        **options: Any,
    ) -> Agent:
        """The same as `Agent(...)`, named as `AsyncAgent.create` is (code moves between the two unchanged)."""
        return cls(client, model, instructions, tools=tools, timeout=timeout, **options)

    def create_session(self, name: str = "", *, timeout: float | None = None) -> str:
        """A new session of the agent; its id."""
        return self.client.agents.create_session(self.agent_id, name, timeout=timeout).session_id

    @overload
    def create_turn(
        self,
        messages: Any,
        session_id: str,
        *,
        documents: Iterable[DocumentLike] = ...,
        toolgroups: Iterable[ToolGroupLike] = ...,
        tool_choice: ToolChoiceLike | None = ...,
        stream: Literal[True] = ...,
        timeout: float | None = ...,
    ) -> Iterator[pb.CreateTurnResponse]: ...

    @overload
    def create_turn(
        self,
        messages: Any,
        session_id: str,
        *,
        documents: Iterable[DocumentLike] = ...,
        toolgroups: Iterable[ToolGroupLike] = ...,
        tool_choice: ToolChoiceLike | None = ...,
        stream: Literal[False],
        timeout: float | None = ...,
    ) -> pb.Turn: ...

    def create_turn(
        self,
        messages: Any,
        session_id: str,
        *,
        documents: Iterable[DocumentLike] = (),
        toolgroups: Iterable[ToolGroupLike] = (),
        tool_choice: ToolChoiceLike | None = None,
        stream: bool = True,
        timeout: float | None = None,
    ) -> Iterator[pb.CreateTurnResponse] | pb.Turn:
        """Run a turn (`messages`: a string or a list of messages), answering client tool calls as they come.

        stream=True: an iterator of the turn's events; stream=False: the finished Turn. `timeout` applies to each call.
        """
        turn_args = {"documents": documents, "toolgroups": toolgroups, "tool_choice": tool_choice, "timeout": timeout}
        if not stream:
            turn = self.client.agents.create_turn_and_wait(self.agent_id, session_id, messages, **turn_args)
            for _ in range(self.max_client_rounds):
                if turn.status != pb.TURN_STATUS_AWAITING_INPUT:
                    break
                turn = self.client.agents.resume_turn_and_wait(
                    self.agent_id, session_id, turn.turn_id, self.run_client_tools(turn), timeout=timeout
                )
            return turn
        return self._streamed(
            self.client.agents.create_turn(self.agent_id, session_id, messages, **turn_args), session_id, timeout
        )

    def create_turn_and_wait(
        self,
        messages: Any,
        session_id: str,
        *,
        documents: Iterable[DocumentLike] = (),
        toolgroups: Iterable[ToolGroupLike] = (),
        tool_choice: ToolChoiceLike | None = None,
        timeout: float | None = None,
    ) -> pb.Turn:
        """The finished Turn, client tools answered (create_turn with stream=False; named as AsyncAgent's)."""
        return self.create_turn(
            messages,
            session_id,
            documents=documents,
            toolgroups=toolgroups,
            tool_choice=tool_choice,
            stream=False,
            timeout=timeout,
        )

    def _streamed(
        self, events: Iterator[Any], session_id: str, timeout: float | None
    ) -> Iterator[pb.CreateTurnResponse]:
        for round_number in range(self.max_client_rounds + 1):
            waiting: pb.Turn | None = None
            with contextlib.closing(events):  # type: ignore[type-var]  # the transport's generator
                for event in events:
                    event = as_turn_event(event)
                    yield event
                    if event.HasField("turn_awaiting_input"):
                        waiting = event.turn_awaiting_input.turn
            if waiting is None or round_number == self.max_client_rounds:
                return
            events = self.client.agents.resume_turn(
                self.agent_id, session_id, waiting.turn_id, self.run_client_tools(waiting), timeout=timeout
            )

    def run_client_tools(self, turn: pb.Turn) -> list[pb.ToolResponse]:
        """Run the functions a turn awaiting input called; one response per pending call, in order."""
        return [
            self._answer(call, self.client_tools[call.tool_name].run(call.arguments)) for call in self._pending(turn)
        ]


class AsyncAgent(_AgentBase):
    """`Agent` over `AsyncLlamaMeshClient`: build it with `await AsyncAgent.create(client, model=..., ...)`."""

    def __init__(
        self,
        client: AsyncLlamaMeshClient,
        model: str,
        instructions: str = "",
        *,
        tools: Iterable[ToolLike] = (),
        **options: Any,
    ) -> None:
        super().__init__(model, instructions, tools=tools, **options)
        self.client = client

    @classmethod
    async def create(
        cls,
        client: AsyncLlamaMeshClient,
        model: str,
        instructions: str = "",
        *,
        tools: Iterable[ToolLike] = (),
        timeout: float | None = None,
        **options: Any,
    ) -> AsyncAgent:
        agent = cls(client, model, instructions, tools=tools, **options)
        agent.agent_id = (await client.agents.create(agent.config, timeout=timeout)).agent_id
        return agent

    async def create_session(self, name: str = "", *, timeout: float | None = None) -> str:
        return (await self.client.agents.create_session(self.agent_id, name, timeout=timeout)).session_id

    async def create_turn_and_wait(
        self,
        messages: Any,
        session_id: str,
        *,
        documents: Iterable[DocumentLike] = (),
        toolgroups: Iterable[ToolGroupLike] = (),
        tool_choice: ToolChoiceLike | None = None,
        timeout: float | None = None,
    ) -> pb.Turn:
        """The finished Turn, client tools answered (Agent.create_turn with stream=False)."""
        agents = self.client.agents
        turn = await agents.create_turn_and_wait(
            self.agent_id,
            session_id,
            messages,
            documents=documents,
            toolgroups=toolgroups,
            tool_choice=tool_choice,
            timeout=timeout,
        )
        for _ in range(self.max_client_rounds):
            if turn.status != pb.TURN_STATUS_AWAITING_INPUT:
                break
            turn = await agents.resume_turn_and_wait(
                self.agent_id, session_id, turn.turn_id, await self.run_client_tools(turn), timeout=timeout
            )
        return turn

    async def create_turn(
        self,
        messages: Any,
        session_id: str,
        *,
        documents: Iterable[DocumentLike] = (),
        toolgroups: Iterable[ToolGroupLike] = (),
        tool_choice: ToolChoiceLike | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.CreateTurnResponse]:
        """The turn's events, resumed ones included (use with `async for`)."""
        events: Any = self.client.agents.create_turn(
            self.agent_id,
            session_id,
            messages,
            documents=documents,
            toolgroups=toolgroups,
            tool_choice=tool_choice,
            timeout=timeout,
        )
        for round_number in range(self.max_client_rounds + 1):
            waiting: pb.Turn | None = None
            async with contextlib.aclosing(events):
                async for event in events:
                    event = as_turn_event(event)
                    yield event
                    if event.HasField("turn_awaiting_input"):
                        waiting = event.turn_awaiting_input.turn
            if waiting is None or round_number == self.max_client_rounds:
                return
            events = self.client.agents.resume_turn(
                self.agent_id, session_id, waiting.turn_id, await self.run_client_tools(waiting), timeout=timeout
            )

    async def run_client_tools(self, turn: pb.Turn) -> list[pb.ToolResponse]:
        return [
            self._answer(call, await self.client_tools[call.tool_name].run_async(call.arguments))
            for call in self._pending(turn)
        ]

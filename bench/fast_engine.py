"""A benchmark-only engine that answers instantly, so that what is measured is the serving path, not a model.

Two faces, one process each (never used by the feature tests):

- `openai`: an OpenAI-compatible HTTP server (GET /v1/models, POST /v1/chat/completions with `stream: true`) that
  streams `max_tokens` one-token server-sent events, each `--token-interval-ms` after the last (0: back to back), then
  a finish reason, usage and `[DONE]`, the way llama_cpp.server does. The inference service's `remote::openai`
  provider talks to it: the mesh's own cost per token with no model eating the CPU.
- `grpc`: `llama.inference.v1.InferenceService/StreamChatCompletion` answering every request with `--tokens`
  pre-serialized chunk messages and a final `complete` message, as fast as gRPC sends them (or each
  `--token-interval-ms` after the last). Put at the inference service's address, it measures the gateway's ceiling:
  the gateway does all the work per message there is.

    python -m bench.fast_engine openai --port 8000 [--token-interval-ms 0]
    python -m bench.fast_engine grpc --port 50061 [--tokens 64] [--token-interval-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import grpc
import uvloop

from llama.common.v1 import messages_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2 as pb

MODEL = "fast"
TOKEN = " tok"
STREAM_METHOD = "/llama.inference.v1.InferenceService/StreamChatCompletion"


# OpenAI-compatible HTTP (HTTP/1.1, keep-alive, chunked server-sent events)


def _event(payload: dict) -> bytes:
    data = b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\r\n\r\n"
    return b"%x\r\n%s\r\n" % (len(data), data)  # one HTTP chunk per event


def _chat_chunk(delta: dict, finish_reason: str | None = None, usage: dict | None = None) -> dict:
    chunk: dict = {
        "id": "chatcmpl-fast",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


_TOKEN_EVENT = _event(_chat_chunk({"content": TOKEN}))
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _json_response(status: str, payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        status.encode(),
        len(body),
        body,
    )


async def _answer_stream(writer: asyncio.StreamWriter, body: dict, interval_s: float) -> None:
    tokens = int(body.get("max_tokens") or 16)
    writer.write(_SSE_HEAD + _event(_chat_chunk({"role": "assistant", "content": ""})))
    for _ in range(tokens):
        if interval_s:
            await asyncio.sleep(interval_s)
        writer.write(_TOKEN_EVENT)
        await writer.drain()
    usage = {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": 8 + tokens}
    writer.write(_event(_chat_chunk({}, "length")) + _event(_chat_chunk({}, usage=usage)))
    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(b"data: [DONE]\r\n\r\n"), b"data: [DONE]\r\n\r\n"))
    await writer.drain()


async def _http_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, interval_s: float) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length") or 0))
            if method == "GET" and path.endswith("/models"):
                writer.write(_json_response("200 OK", {"object": "list", "data": [{"id": MODEL, "object": "model"}]}))
            elif method == "POST" and path.endswith("/chat/completions"):
                await _answer_stream(writer, json.loads(body), interval_s)
            else:
                writer.write(_json_response("404 Not Found", {"error": {"message": f"no {method} {path}"}}))
            await writer.drain()
    finally:
        writer.close()


async def serve_openai(port: int, interval_s: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: _http_connection(r, w, interval_s), "127.0.0.1", port, reuse_address=True
    )
    async with server:
        await server.serve_forever()


# gRPC InferenceService.StreamChatCompletion, pre-serialized


def stream_messages(tokens: int) -> list[bytes]:
    chunk = pb.StreamChatCompletionResponse(chunk=pb.ChatCompletionChunk(text_delta=TOKEN)).SerializeToString()
    complete = pb.StreamChatCompletionResponse(
        complete=pb.ChatCompletionComplete(
            completion_message=messages_pb2.Message(
                role=messages_pb2.ROLE_ASSISTANT,
                stop_reason=messages_pb2.STOP_REASON_OUT_OF_TOKENS,
            ),
            usage=sampling_pb2.Usage(prompt_tokens=8, completion_tokens=tokens, total_tokens=8 + tokens),
        )
    ).SerializeToString()
    return [chunk] * tokens + [complete]


async def serve_grpc(port: int, tokens: int, interval_s: float = 0.0) -> None:
    messages = stream_messages(tokens)

    async def stream(request: bytes, context: grpc.aio.ServicerContext):  # noqa: ANN202 - a gRPC behavior
        for message in messages:
            if interval_s:
                await asyncio.sleep(interval_s)
            yield message

    handler = grpc.method_handlers_generic_handler(
        "llama.inference.v1.InferenceService",
        {"StreamChatCompletion": grpc.unary_stream_rpc_method_handler(stream)},
    )
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers([handler])
    if not server.add_insecure_port(f"127.0.0.1:{port}"):
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    """Until something accepts connections on 127.0.0.1:`port`."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("face", choices=["openai", "grpc"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-interval-ms", type=float, default=0.0, help="time between tokens (0: back to back)")
    parser.add_argument("--tokens", type=int, default=64, help="grpc: chunk messages per stream")
    args = parser.parse_args(argv)
    try:  # on uvloop, as the services it stands in for (and uvicorn's llama_cpp.server) run
        if args.face == "openai":
            uvloop.run(serve_openai(args.port, args.token_interval_ms / 1000))
        else:
            uvloop.run(serve_grpc(args.port, args.tokens, args.token_interval_ms / 1000))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/env node
// A llama-mesh client in Node.js: the stubs come from protos/ at run time (@grpc/proto-loader), the calls go through
// the gateway with @grpc/grpc-js.
//
//   node clients/node/client.js --address 127.0.0.1:50051 models
//   node clients/node/client.js --address 127.0.0.1:50051 chat --model smollm2-135m-instruct "Say hello" --max-tokens 16
//
// `models` prints one model id per line; `chat` prints the reply's text as it streams, then a newline. A failed call
// prints "error: <CODE>: <details>" on stderr and exits 1. $LLAMA_MESH_TOKEN, when set, is sent as the bearer token.
"use strict";

const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const PROTOS = path.resolve(__dirname, "..", "..", "protos");

function loadApis() {
  const definition = protoLoader.loadSync(
    ["llama/registry/v1/registry.proto", "llama/inference/v1/inference.proto"],
    { includeDirs: [PROTOS], keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true },
  );
  return grpc.loadPackageDefinition(definition).llama;
}

function parseArgs(argv) {
  const options = { address: "127.0.0.1:50051", model: "", maxTokens: 64, words: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--address") options.address = argv[++i];
    else if (arg === "--model") options.model = argv[++i];
    else if (arg === "--max-tokens") options.maxTokens = Number(argv[++i]);
    else options.words.push(arg);
  }
  return options;
}

function metadata() {
  const md = new grpc.Metadata();
  if (process.env.LLAMA_MESH_TOKEN) md.set("authorization", `Bearer ${process.env.LLAMA_MESH_TOKEN}`);
  return md;
}

function deadline(seconds) {
  return new Date(Date.now() + seconds * 1000);
}

function fail(error) {
  const code = Object.keys(grpc.status).find((name) => grpc.status[name] === error.code) || String(error.code);
  process.stderr.write(`error: ${code}: ${error.details || error.message}\n`);
  process.exit(1);
}

// Every model, following the pages (page_token) until the gateway returns an empty next_page_token.
function listModels(registry, token = "", found = []) {
  return new Promise((resolve, reject) => {
    registry.ListModels({ page_size: 100, page_token: token }, metadata(), { deadline: deadline(30) }, (error, reply) => {
      if (error) return reject(error);
      const models = found.concat(reply.models);
      return reply.next_page_token ? resolve(listModels(registry, reply.next_page_token, models)) : resolve(models);
    });
  });
}

function streamChat(inference, model, text, maxTokens) {
  return new Promise((resolve, reject) => {
    const request = {
      model_id: model,
      messages: [{ role: "ROLE_USER", content: { text } }],
      sampling_params: { max_tokens: maxTokens },
    };
    const call = inference.StreamChatCompletion(request, metadata(), { deadline: deadline(600) });
    call.on("data", (event) => {
      if (event.event === "chunk") process.stdout.write(event.chunk.text_delta);
      else if (event.event === "error") {
        call.cancel();
        reject({ code: event.error.code, details: `${event.error.message} [${event.error.reason}]` });
      }
    });
    call.on("error", (error) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
    call.on("end", () => {
      process.stdout.write("\n");
      resolve();
    });
  });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const [command, ...rest] = options.words;
  const llama = loadApis();
  const credentials = grpc.credentials.createInsecure();
  if (command === "models") {
    const registry = new llama.registry.v1.RegistryService(options.address, credentials);
    const models = await listModels(registry);
    for (const model of models) process.stdout.write(`${model.identifier}\n`);
    registry.close();
  } else if (command === "chat") {
    if (!options.model || rest.length === 0) throw new Error("chat needs --model and a message");
    const inference = new llama.inference.v1.InferenceService(options.address, credentials);
    await streamChat(inference, options.model, rest.join(" "), options.maxTokens);
    inference.close();
  } else {
    process.stderr.write("usage: client.js [--address HOST:PORT] models | chat --model ID [--max-tokens N] TEXT\n");
    process.exit(2);
  }
}

main().catch(fail);

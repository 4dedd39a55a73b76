"""The `llama-mesh` command line: registry, chat, completion, embeddings and inspection through the gateway."""

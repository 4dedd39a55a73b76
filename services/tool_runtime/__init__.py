"""The tool_runtime service: the tools of registered tool groups (built-in RAG, MCP servers) and RAG's operations."""

"""The local LLM: llama.cpp runtime, conversation sessions with KV reuse, eviction, snapshots."""

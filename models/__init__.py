"""Model data and tools: the model catalog, test-model synthesis, embedder import (later issues)."""

"""Chunks in, a searchable index out: embeddings, the Chroma store, the manifest, BM25, incremental builds."""

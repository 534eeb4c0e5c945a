"""Documents in, clean text and chunks out: loading, format readers, cleaning, chunking, corpus files."""

"""Answers composed without a model: quotes of the best-supported sentences, section digests, and what changed
between two versions of a document."""

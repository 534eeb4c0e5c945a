"""Answers written by a language model: prompts, the backends and the local engine's turns, translation of English
answers over Chinese text, model-written digests, and what a generated answer left out."""

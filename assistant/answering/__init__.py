"""Evidence in, a cited answer out: the extractive answerer, prompts, language models, generation, verification."""

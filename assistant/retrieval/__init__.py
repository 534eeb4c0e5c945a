"""A question in, ranked evidence out: hybrid fusion, cross-lingual expansion, follow-up condensing."""

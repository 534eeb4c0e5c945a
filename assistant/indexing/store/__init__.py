"""The Chroma adapter: every module that touches the engine or its files lives here.

``chunks.ChunkStore`` is the one door (open, publish, read a generation); ``reader`` and ``writer`` read and write a
generation's collections, ``rows``/``rowcache`` what one row holds and its local cache, ``manifest`` which generation
is live, ``lease`` and ``holds`` who may write and who still reads, ``garbage``/``reclaim``/``diskfull`` what is
collected and what a failed write leaves, ``vectorfile`` the local mode's sentence vectors beside the index.
"""

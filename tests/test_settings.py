"""Settings: sources and precedence, secrets never printed, and the docs/settings.md table generated from the code."""

from pathlib import Path

from assistant.settings import Settings, settings_table

SETTINGS_DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_environment_overrides_toml_over_defaults(tmp_path, monkeypatch):
    (tmp_path / "assistant.toml").write_text("[chunk]\nmax_chars = 400\n[retrieve]\nk = 7\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_RETRIEVE__K", "9")
    settings = Settings()
    assert settings.chunk.max_chars == 400 and settings.retrieve.k == 9 and settings.answer.max_quotes == 3


def test_api_key_is_masked_in_the_description_and_dump(monkeypatch):
    monkeypatch.setenv("ASSISTANT_LLM__PROVIDER", "openai")
    monkeypatch.setenv("ASSISTANT_LLM__MODEL", "gpt-test")
    monkeypatch.setenv("ASSISTANT_LLM__API_KEY", "sk-very-secret")
    settings = Settings()
    assert "sk-very-secret" not in settings.llm.describe()
    assert "sk-very-secret" not in str(settings.model_dump(mode="json"))


def test_settings_doc_documents_every_setting_with_its_default():
    assert settings_table() in SETTINGS_DOC.read_text(encoding="utf-8"), (
        "run `assistant config --markdown` and paste it into docs/settings.md"
    )


def test_credentials_in_the_llm_url_are_masked_in_the_footer_line():
    from assistant.settings import LlmSettings, mask_credentials

    llm = LlmSettings(provider="openai", model="m", base_url="http://bob:s3cret@10.0.0.1:8000/v1")
    assert "s3cret" not in llm.describe() and "bob" not in llm.describe() and "http://***@10.0.0.1:8000/v1" in llm.describe()
    assert mask_credentials("http://10.0.0.1:8000/v1") == "http://10.0.0.1:8000/v1"
    assert mask_credentials("https://u:p@a@host/x@y") == "https://***@host/x@y"


def test_the_model_identity_ignores_how_it_runs_so_digests_survive_a_new_thread_count(tmp_path):
    from assistant.settings import LlmSettings

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    two, one = LlmSettings(provider="local", model_path=model, threads=2), LlmSettings(provider="local", model_path=model, threads=1)
    assert two.describe() != one.describe() and two.identity() == one.identity() == "local · m.gguf"
    assert LlmSettings(provider="local", model_path=tmp_path / "other.gguf").identity() != two.identity()

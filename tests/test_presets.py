"""Per-document settings declared beside a document."""

import pytest

from assistant.errors import BadDocument
from assistant.ingest.presets import read_presets


def test_a_documents_toml_declares_its_names_and_a_bad_one_is_a_clear_error(tmp_path):
    (tmp_path / "a.txt.toml").write_text('names = ["Acme", "艾克米"]\n', encoding="utf-8")
    assert read_presets(tmp_path, ["a.txt", "b.txt"])["a.txt"].names == ["Acme", "艾克米"]
    (tmp_path / "b.txt.toml").write_text('nmes = ["typo"]\n', encoding="utf-8")
    with pytest.raises(BadDocument, match="b.txt.toml"):
        read_presets(tmp_path, ["b.txt"])

"""Which documents a question is about: names read from each document's file name and title."""

import pytest

from assistant.errors import UnknownScope
from assistant.retrieval.documents import Library, document_names

TITLES = {
    "genai-enterprise-report.zh.txt": "生成式AI对企业的影响和意义",
    "gpl-3.0.en.txt": "GNU GENERAL PUBLIC LICENSE",
    "vimtutor.zh_cn.txt": "欢     迎     阅     读   《 V I M  教  程 》   ——      版本 1.7",
}


def test_names_come_from_the_file_name_the_title_and_its_initials():
    names = document_names("gpl-3.0.en.txt", "GNU GENERAL PUBLIC LICENSE")
    assert {"gpl", "general public", "public license"} <= names
    assert "en" not in names and "txt" not in names
    assert "vim教程" in document_names("vimtutor.zh_cn.txt", TITLES["vimtutor.zh_cn.txt"])


def test_a_question_naming_a_document_is_about_it_in_either_language():
    library = Library.of(TITLES)
    assert library.named_in("GPL第11条不允许什么？") == {"gpl-3.0.en.txt"}
    assert library.named_in("What does the GNU General Public License say about patents?") == {"gpl-3.0.en.txt"}
    assert library.named_in("在Vim里怎么退出？") == {"vimtutor.zh_cn.txt"}  # "Vim" starts "vimtutor"
    assert library.named_in("How do I quit Vim?") == {"vimtutor.zh_cn.txt"}
    assert library.named_in("微软对OpenAI的投资金额是多少？") == frozenset()  # names none: every document
    assert library.named_in("Does the report or the GPL or the Vim tutor say it?") == frozenset()  # all: no scope


def test_a_name_two_documents_share_picks_neither():
    library = Library.of({"annual-report-2023.txt": "Annual Report", "annual-report-2024.txt": "Annual Report"})
    assert library.named_in("What does the annual report say?") == frozenset()


def test_documents_are_picked_by_id_or_unique_name_and_an_unknown_one_is_a_clear_error():
    library = Library.of(TITLES)
    assert library.resolve(["gpl-3.0.en.txt", "vimtutor"]) == {"gpl-3.0.en.txt", "vimtutor.zh_cn.txt"}
    with pytest.raises(UnknownScope, match="gpl-3.0.en.txt"):
        library.resolve(["nonexistent.pdf"])

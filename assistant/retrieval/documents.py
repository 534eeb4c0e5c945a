"""Which documents a question is about: the ones the asker picked, or the ones the question names.

A question that names a document ("In the GPL, …", "在Vim教程里…") is answered from that document only. A
document's names are read from the document itself, never written into code: the words of its file name and the
words of its title (its first line), kept only where no other document shares them, so a name picks one
document. A title's bracketed name (《Vim教程》) counts whole, and an acronym of the title's capitalised words
counts too ("GNU General Public License" → "GPL" via its initials G·P·L, the last three).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from assistant.errors import UnknownScope

NAME_WORD_RE = re.compile(r"[A-Za-z][A-Za-z]{2,}")
BRACKETED_RE = re.compile(r"《([^》]{2,30})》")
QUESTION_WORD_RE = re.compile(r"[A-Za-z]{3,}")
ACRONYM_MIN, ACRONYM_MAX = 3, 4
GENERIC_NAME_WORDS = frozenset(
    "the and for txt md pdf docx html htm doc text file version edition draft final copy new old zh cn en tw"
    " utf".split()
)


def _acronyms(words: list[str]) -> set[str]:
    """Initials of each run of capitalised words (a run of capitals counts alone: "GNU GENERAL PUBLIC LICENSE
    Version"), whole and of the last three or four ("GGPL", "GPL")."""
    runs: list[list[str]] = []
    for style in (str.isupper, lambda w: w[0].isupper()):
        run: list[str] = []
        for word in [*words, "."]:
            if word[0].isalpha() and style(word):
                run.append(word)
            else:
                runs.append(run)
                run = []
    acronyms = set()
    for run in runs:
        initials = "".join(w[0] for w in run).lower()
        acronyms |= {initials[-n:] for n in range(ACRONYM_MIN, len(initials) + 1) if n <= ACRONYM_MAX or n == len(initials)}
    return acronyms


def document_names(doc_id: str, title: str, declared: Iterable[str] = ()) -> set[str]:
    """Every name a question may use for one document, lower-cased (see the module's docstring)."""
    stem = doc_id.rsplit("/", 1)[-1]
    words = {w.lower() for w in NAME_WORD_RE.findall(stem)} - GENERIC_NAME_WORDS
    title_words = NAME_WORD_RE.findall(title)
    pairs = {f"{a} {b}".lower() for a, b in zip(title_words, title_words[1:])}
    bracketed = set(BRACKETED_RE.findall("".join(title.split()).lower()))
    return words | pairs | bracketed | _acronyms(title_words) | {name.lower() for name in declared}


@dataclass(frozen=True)
class Library:
    """The indexed documents and the names that pick each one out."""

    names: Mapping[str, frozenset[str]]  # doc_id -> its distinctive names
    every_name: frozenset[str] = frozenset()  # every name of every document, shared ones too

    @classmethod
    def of(cls, titles: Mapping[str, str], declared: Mapping[str, Iterable[str]] | None = None) -> Library:
        """Names from each document's id and title (plus ``declared`` ones); a name two documents share is dropped."""
        candidates = {doc: document_names(doc, title, (declared or {}).get(doc, ())) for doc, title in titles.items()}
        owners: dict[str, set[str]] = defaultdict(set)
        for doc, names in candidates.items():
            for name in names:
                owners[name].add(doc)
        distinct = {doc: frozenset(n for n in names if len(owners[n]) == 1) for doc, names in candidates.items()}
        return cls(distinct, frozenset(owners))

    def names_a_document(self, word: str) -> bool:
        """Whether a word is one of the documents' names ("GPL", a declared "Acme"): a question that says it
        is about a document, so the evidence need not state it."""
        return word.lower() in self.every_name

    def named_in(self, question: str) -> frozenset[str]:
        """The documents a question names, when it names some but not all of them (then it is about those)."""
        lowered = " ".join(question.split()).lower()
        words = {w.lower() for w in QUESTION_WORD_RE.findall(question)}
        named = frozenset(
            doc
            for doc, names in self.names.items()
            if any(_mentions(name, lowered, words) for name in names)
        )
        return named if len(named) < len(self.names) else frozenset()

    def resolve(self, wanted: Iterable[str]) -> frozenset[str]:
        """Documents picked by id (or by a name unique to one document); an unknown one is a clear error."""
        picked = set()
        for item in wanted:
            if item in self.names:
                picked.add(item)
                continue
            matches = [doc for doc, names in self.names.items() if item.lower() in names]
            if len(matches) != 1:
                raise UnknownScope(item, sorted(self.names))
            picked.add(matches[0])
        return frozenset(picked)


def _mentions(name: str, lowered: str, words: set[str]) -> bool:
    """A Latin name as a word of the question, or a question word that starts it ("Vim" for "vimtutor"); other
    names (Chinese, bracketed titles) anywhere in the question."""
    if not name.isascii():
        return name in lowered.replace(" ", "")
    if " " in name:
        return re.search(rf"\b{re.escape(name)}\b", lowered) is not None
    return name in words or any(name.startswith(w) for w in words)

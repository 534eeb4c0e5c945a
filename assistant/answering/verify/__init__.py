"""Check a generated answer against the numbered sources it was given.

Models cite loosely: markers in many bracket styles, numbers for sources that were
never given, claims with no marker at all, figures converted wrongly between
Chinese and English units. Verification is pure code over the sources — no second
model call — so it is cheap, deterministic and testable:

* markers are parsed, out-of-range ones dropped, the rest renumbered densely;
* each answer sentence is aligned to the source sentence that supports it best
  (embedding similarity through a callback, plus lexical overlap that counts
  dictionary translations and converted figures), which becomes its verbatim quote;
* every figure in a sentence must occur in the cited text, after unit conversion.

A bracketed number above ``MAX_MARKER`` (``[2023]``) is ordinary text, not a marker;
``[0]`` or a number above the number of sources is a marker to a source that does
not exist, so it is removed and counted.
"""

from assistant.answering.verify.markers import MARKER_RE, parse_markers, strip_markers
from assistant.answering.verify.support import Similarity, embedding_similarity
from assistant.answering.verify.verifier import VerifiedAnswer, verify

__all__ = ["MARKER_RE", "Similarity", "VerifiedAnswer", "embedding_similarity", "parse_markers", "strip_markers", "verify"]

"""Retrieval modes, hostile keyword input, filters, the per-document cap, grouping and facets."""

from __future__ import annotations

import pytest

from indexer import InvalidQuery, KnowledgeBase
from indexer.keyword import fts_query
from indexer.records import Document, Hit, Location, Passage
from indexer import search as search_module
from indexer.search import SearchRequest, check_query

from .conftest import HOSTILE, make_pptx


@pytest.fixture
def catalogued_corpus(small_corpus):
    (small_corpus / "catalog.yaml").write_text(
        "- file: thailand.pptx\n  type: presentation\n  session: 6\n  countries: [Thailand]\n  language: en\n  date: 2017-05-24\n"
        "- file: pensions.pdf\n  type: country note\n  session: 6\n  countries: [China]\n  language: en\n  date: 2017-05-23\n"
        "- file: zambia.docx\n  type: summary\n  countries: [Zambia]\n  language: en\n  date: 2016-10-01\n",
        encoding="utf-8",
    )
    return small_corpus


@pytest.fixture
def kb(fake_kb: KnowledgeBase, catalogued_corpus) -> KnowledgeBase:
    fake_kb.index([catalogued_corpus])
    return fake_kb


@pytest.mark.parametrize("query", HOSTILE)
@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_hostile_keyword_input_is_searched_as_text(kb, query, mode):
    result = kb.search(query, k=5, mode=mode)
    assert all(hit.document.id for hit in result.hits)
    assert kb.stats().documents == 4


def test_fts_query_quotes_every_word():
    assert fts_query('pension" OR (scheme* NEAR x)') == '"pension" OR "scheme" OR "near" OR "x"'
    assert fts_query("the and of") == '"the" OR "and" OR "of"'
    assert fts_query("?!*") is None


def test_keyword_mode_finds_exact_words(kb):
    result = kb.search("Section 40", k=3, mode="keyword")
    assert result.hits[0].document.filename == "thailand.pptx"
    assert result.mode == "keyword"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_every_mode_is_deterministic(kb, mode):
    first = kb.search("pension scheme coverage", k=5, mode=mode)
    second = kb.search("pension scheme coverage", k=5, mode=mode)
    assert [(h.passage.id, h.score) for h in first.hits] == [(h.passage.id, h.score) for h in second.hits]


def test_unknown_mode_is_refused(kb):
    with pytest.raises(InvalidQuery, match="hybrid, dense, keyword"):
        kb.search("pension", mode="magic")


def test_filter_narrows_before_ranking(kb):
    result = kb.search("pension scheme workers", k=10, filters={"type": ("presentation",)})
    assert result.hits and {hit.document.filename for hit in result.hits} == {"thailand.pptx"}


def test_filters_match_list_fields_case_insensitively_and_combine(kb):
    result = kb.search("workers", k=10, filters={"country": ("zambia",), "year": ("2016",)})
    assert {hit.document.filename for hit in result.hits} == {"zambia.docx"}
    assert kb.search("workers", k=10, filters={"country": ("Zambia",), "year": ("2017",)}).hits == ()


def test_several_values_of_one_filter_match_any(kb):
    result = kb.search("pension health workers", k=10, filters={"country": ("China", "Thailand")}, per_document=0)
    assert {hit.document.filename for hit in result.hits} == {"pensions.pdf", "thailand.pptx"}


def test_unknown_filter_lists_the_valid_ones(kb):
    with pytest.raises(InvalidQuery, match="unknown filter colour; valid filters: type, format, session, country"):
        kb.search("pension", filters={"colour": ("red",)})


def test_filtered_search_still_returns_k_results(tmp_path, fake_embedder):
    folder = tmp_path / "many"
    folder.mkdir()
    for number in range(12):
        (folder / f"note{number:02}.md").write_text(f"# Note {number}\n\nHealth insurance note number {number}.\n")
    make_pptx(folder / "deck.pptx", [{"title": f"Slide {n}", "bullets": [f"Health insurance point {n}"]} for n in range(6)])
    (folder / "catalog.yaml").write_text("- file: deck.pptx\n  type: presentation\n")
    kb = KnowledgeBase(tmp_path / "data", embedder=fake_embedder)
    kb.index([folder])
    result = kb.search("health insurance", k=5, filters={"type": ("presentation",)}, per_document=0)
    assert len(result.hits) == 5 and {hit.document.filename for hit in result.hits} == {"deck.pptx"}


def test_per_document_cap_keeps_one_document_from_crowding_out_the_rest(tmp_path, fake_embedder):
    folder = tmp_path / "crowd"
    folder.mkdir()
    make_pptx(folder / "long.pptx", [{"title": f"Pensions {n}", "bullets": ["old-age pension coverage"]} for n in range(8)])
    (folder / "short.md").write_text("# Other\n\nOld-age pension coverage in Zambia.\n")
    kb = KnowledgeBase(tmp_path / "data", embedder=fake_embedder)
    kb.index([folder])
    capped = kb.search("old-age pension coverage", k=5)
    assert sum(hit.document.filename == "long.pptx" for hit in capped.hits) == 3
    assert "short.md" in {hit.document.filename for hit in capped.hits}
    uncapped = kb.search("old-age pension coverage", k=5, per_document=0)
    assert sum(hit.document.filename == "long.pptx" for hit in uncapped.hits) >= 4


def test_group_by_document_returns_each_document_once_with_its_passages(kb):
    result = kb.search("workers pension health", k=2, group=True, per_document=2)
    documents = [hit.document.id for hit in result.hits]
    assert len(set(documents)) == 2
    assert documents == sorted(documents, key=documents.index)  # passages of one document stay together


def test_facets_count_documents_per_value(kb):
    facets = kb.search("workers pension health coverage", k=10, facets=True).facets
    assert set(facets) == {"type", "session", "country", "language", "year"}
    assert facets["country"].get("Thailand") == 1
    assert facets["language"].get("en", 0) >= 2


def test_facets_and_highlights_are_made_only_when_asked(kb):
    plain = kb.search("workers pension health coverage", k=5)
    full = kb.search("workers pension health coverage", k=5, highlights=True, facets=True)
    assert [hit.passage.id for hit in plain.hits] == [hit.passage.id for hit in full.hits]
    assert plain.facets == {} and all(hit.highlights == () for hit in plain.hits)
    assert full.facets["type"] and any(hit.highlights for hit in full.hits)
    marked = kb.search("workers pension health coverage", k=5, answers=2)
    assert [bool(hit.highlights) for hit in marked.hits[2:]] == [False] * len(marked.hits[2:])
    assert marked.hits[0].highlights == full.hits[0].highlights  # marking an answer weighs the question's words


@pytest.mark.parametrize("mode, quick", [("hybrid", True), ("dense", False)])
def test_dense_search_embeds_the_question_with_the_model_itself_hybrid_with_its_quick_copy(kb, monkeypatch, mode, quick):
    asked = []
    real = search_module.question_vector
    monkeypatch.setattr(search_module, "question_vector", lambda embedder, question, quick=False: asked.append(quick) or real(embedder, question))
    kb.search("workers pension health coverage", mode=mode)
    assert asked == [quick]


@pytest.mark.parametrize("location, where", [(Location(section="Zambia field research"), ""), (Location(section="Domestic workers"), "Domestic workers"),
                                              (Location(page=3), "p. 3"), (Location(slide=2), "slide 2")])
def test_hit_location_label_never_repeats_the_document_title(location, where):
    document = Document(id=1, path="/x.docx", filename="x.docx", title="Zambia field research", type="summary", format="docx",
                        sha256="0" * 64, size=1, indexed_at="")
    passage = Passage(text="Most domestic workers are women.", location=location)
    assert Hit(rank=1, score=1.0, passage=passage, document=document).where == where


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_answers_mark_a_sentence_of_the_first_hits_only(kb, mode):
    hits = kb.search("pension coverage for rural workers", k=4, mode=mode, answers=2).hits
    assert all(hit.answer is None for hit in hits[2:])
    marked = [hit for hit in hits[:2] if hit.answer is not None]
    assert marked, "no hit among the first two got an answering sentence"
    for hit in marked:
        start, end = hit.answer
        assert 0 <= start < end <= len(hit.passage.text) and (start, end) != (0, len(hit.passage.text))
    assert all(hit.answer is None for hit in kb.search("pension coverage", k=4, mode=mode).hits)


def test_answers_outside_0_to_max_k_are_refused(kb):
    with pytest.raises(InvalidQuery, match="answers must be between 0 and"):
        kb.search("pension", answers=-1)


def test_fusion_is_chosen_per_model_with_a_default_for_the_others():
    from indexer.search import MODEL_FUSION, Fusion

    chosen = Fusion(**MODEL_FUSION["multilingual-e5-small"])
    assert chosen.alpha == 0.7 and chosen.other_language_alpha == 0.9
    assert Fusion.for_model("multilingual-e5-small") == chosen
    assert Fusion.for_model("multilingual-e5-small@int8") == chosen
    assert Fusion.for_model("all-MiniLM-L6-v2") == Fusion()
    assert KnowledgeBase("unused", model="multilingual-e5-small").fusion == chosen


@pytest.mark.parametrize(("question", "alpha"), [
    ("How does Mongolia protect the maternity of self-employed women?", 0.7),
    ("¿Cuántos trabajadores de la construcción en Zambia tienen protección social?", 0.9),
    ("Comment la Mongolie protège-t-elle la maternité des travailleuses indépendantes ?", 0.9),
    ("ILO", 0.7),  # too short to tell: the ordinary weight
])
def test_a_question_not_in_english_gets_the_other_language_weight(question, alpha):
    from indexer.search import Fusion

    assert Fusion(alpha=0.7, other_language_alpha=0.9).alpha_for(question) == alpha
    assert Fusion(alpha=0.7).alpha_for(question) == 0.7


def test_the_other_language_weight_ranks_a_spanish_question_by_its_dense_side(kb):
    from indexer.search import Fusion

    question = "¿Qué cubren las pensiones rurales para los trabajadores?"
    kb.fusion = Fusion(alpha=0.5, other_language_alpha=1.0)
    assert kb.fusion.alpha_for(question) == 1.0, "the question is recognised as not English"
    dense_only = [hit.passage.id for hit in kb.search(question, k=10).hits]
    assert dense_only and dense_only == [hit.passage.id for hit in kb.search(question, k=10, mode="dense").hits]


@pytest.mark.parametrize("question", ["\ufeff", " \ufeff\t", "\x1d"])
def test_a_question_of_byte_order_marks_and_separators_is_empty(question):
    # The description's pattern for q (corrected after fuzzing sent "\x1d", which a JSON Schema \S takes and Python's
    # strip() does not) counts U+FEFF as white space, as JSON Schema's \s does: so does the search.
    with pytest.raises(InvalidQuery, match="the question is empty"):
        check_query(SearchRequest(question), 500)
    assert check_query(SearchRequest("\ufeffpension"), 500) == "\ufeffpension"

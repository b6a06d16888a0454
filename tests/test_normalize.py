from indexer.normalize import normalize_text, strip_running_lines


def test_normalize_joins_hyphenated_line_ends_and_folds_ligatures():
    assert normalize_text("social pro-\ntection ﬁnance") == "social protection finance"


def test_normalize_keeps_hyphenated_names_and_collapses_spaces():
    assert normalize_text("Asia-\nPacific   region\u00a0 \n\n\n\nnext") == "Asia-\nPacific region\n\nnext"


def test_normalize_removes_invisible_characters():
    assert normalize_text("co\u00adverage\u200b") == "coverage"


def test_running_header_and_page_numbers_are_stripped():
    topics = ["pensions", "health insurance", "maternity", "employment injury", "unemployment"]
    pages = [f"ESSA country note\nThis page is about {topic}.\nPage {n}" for n, topic in enumerate(topics, 1)]
    stripped = strip_running_lines(pages)
    assert stripped == [f"This page is about {topic}." for topic in topics]


def test_short_documents_keep_their_lines():
    pages = ["Title\nText", "Title\nMore"]
    assert strip_running_lines(pages) == pages

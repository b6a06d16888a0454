from indexer.normalize import normalize_text


def test_normalize_joins_hyphenated_line_ends_and_folds_ligatures():
    assert normalize_text("social pro-\ntection ﬁnance") == "social protection finance"


def test_normalize_keeps_hyphenated_names_and_collapses_spaces():
    assert normalize_text("Asia-\nPacific   region\u00a0 \n\n\n\nnext") == "Asia-\nPacific region\n\nnext"


def test_normalize_removes_invisible_characters():
    assert normalize_text("co\u00adverage\u200b") == "coverage"

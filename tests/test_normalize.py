from indexer.normalize import join_lines, normalize_text


def test_normalize_joins_hyphenated_line_ends_and_folds_ligatures():
    assert normalize_text("social pro-\ntection ﬁnance") == "social protection finance"


def test_normalize_keeps_hyphenated_names_and_collapses_spaces():
    assert normalize_text("Asia-\nPacific   region\u00a0 \n\n\n\nnext") == "Asia-\nPacific region\n\nnext"


def test_normalize_removes_invisible_characters():
    assert normalize_text("co\u00adverage\u200b") == "coverage"


def test_lines_of_a_paragraph_are_joined_and_hyphenation_undone():
    assert join_lines(["Informal workers need unemploy-", "ment insurance and", "pensions."]) == \
        "Informal workers need unemployment insurance and pensions."
    assert join_lines(["Asia-", "Pacific"]) == "Asia-Pacific"
    assert join_lines(["support for self-", "employed workers"]) == "support for self-employed workers"
    assert join_lines(["the own-", "account workers"], frozenset({"own-account"})) == "the own-account workers"
    assert join_lines(["the own-", "account workers"]) == "the ownaccount workers"

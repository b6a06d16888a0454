"""The store's rows: the connection every reader and writer uses, the meta table, near duplicates, rows back to records."""

from __future__ import annotations

import numpy as np

from indexer import store_rows

from .conftest import save_texts


def test_connect_uses_wal_and_foreign_keys(store):
    db = store_rows.connect(store.layout.database)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        db.close()


def test_meta_values_round_trip_and_missing_keys_give_the_default(store):
    db = store.connection()
    assert store_rows.read_meta(db, "test-key", {"none": True}) == {"none": True}
    store_rows.write_meta(db, "test-key", {"languages": ["en", "fr"], "name": "Café"})
    store_rows.write_meta(db, "test-key", {"languages": ["en"], "name": "Café"})
    assert store_rows.read_meta(db, "test-key", None) == {"languages": ["en"], "name": "Café"}


def test_near_duplicates_are_listed_most_similar_first_and_lonely_documents_left_out(store):
    first, second, third, lonely = (save_texts(store, f"{name}.txt", [f"text of {name}"]).id
                                    for name in ("first", "second", "third", "lonely"))
    db = store.connection()
    with store_rows.transaction(db):
        store_rows.save_near_duplicates(db, first, np.zeros(4, dtype=np.uint64), {second: 0.8, third: 0.95})
    assert store_rows.near_duplicate_ids(db, [first, second, lonely]) == {first: [third, second], second: [first]}
    assert store_rows.near_duplicate_ids(db, []) == {}


def test_rows_read_back_as_the_records_saved(store):
    saved = save_texts(store, "notes/pensions.txt", ["Pensions in Zambia.", "Health in Thailand."])
    db = store.connection()
    document = store_rows.document_from_row(db.execute(f"{store_rows.DOCUMENT_SELECT} WHERE d.id = ?", (saved.id,)).fetchone())
    assert document == saved
    assert (document.path, document.title, document.passage_count) == ("notes/pensions.txt", "pensions", 2)
    rows = db.execute(f"SELECT {store_rows.PASSAGE_COLUMNS} FROM passages WHERE document_id = ? ORDER BY ordinal", (saved.id,))
    passages = [store_rows.passage_from_row(row) for row in rows]
    assert [(p.document_id, p.ordinal, p.text, p.location.page, p.char_end) for p in passages] == [
        (saved.id, 0, "Pensions in Zambia.", 1, len("Pensions in Zambia.")),
        (saved.id, 1, "Health in Thailand.", 2, len("Health in Thailand.")),
    ]

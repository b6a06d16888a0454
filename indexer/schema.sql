-- The index database. Passages keep their vectors so the FAISS file can be rebuilt;
-- passages_fts mirrors passages for keyword search, kept in step by the triggers below (same transaction).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- path: where the file came from (its identity for updates; "upload:NAME" for uploads);
-- original: the copy kept in the index directory, which /api/documents/<id>/file serves.
CREATE TABLE IF NOT EXISTS documents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    path       TEXT NOT NULL UNIQUE,
    original   TEXT NOT NULL DEFAULT '',
    filename   TEXT NOT NULL,
    title      TEXT NOT NULL,
    type       TEXT NOT NULL,
    format     TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    indexed_at TEXT NOT NULL,
    metadata   TEXT NOT NULL DEFAULT '{}',
    language   TEXT NOT NULL DEFAULT '',
    notice     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS documents_sha256 ON documents (sha256);

-- AUTOINCREMENT: a deleted passage's id (its FAISS id) is never given to another passage.
CREATE TABLE IF NOT EXISTS passages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    text        TEXT NOT NULL,
    heading     TEXT NOT NULL DEFAULT '',
    page        INTEGER,
    page_label  TEXT,
    slide       INTEGER,
    section     TEXT,
    char_start  INTEGER NOT NULL,
    char_end    INTEGER NOT NULL,
    ocr         INTEGER NOT NULL DEFAULT 0,
    language    TEXT NOT NULL DEFAULT '',
    vector      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_document ON passages (document_id);

-- Keyword index: the passage text, and its context (document title and heading) as a second column, each
-- stored as the Snowball stems of its words in the passage's language (and in English) by kb_stems(text,
-- language), a function the store registers on every connection (keyword.index_stems): FTS5 only stems English.
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5 (
    text, context, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS passages_fts_insert AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts (rowid, text, context)
    VALUES (new.id, kb_stems(new.text, new.language),
            kb_stems((SELECT title FROM documents WHERE id = new.document_id) || ' ' || new.heading, new.language));
END;
CREATE TRIGGER IF NOT EXISTS passages_fts_delete AFTER DELETE ON passages BEGIN
    DELETE FROM passages_fts WHERE rowid = old.id;
END;

-- Passages deleted by each write, so a reader can bring its FAISS index up to date
-- (remove these ids, add passages with larger ids) instead of reloading it whole.
CREATE TABLE IF NOT EXISTS deleted_passages (
    id      INTEGER PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS passages_deleted_log AFTER DELETE ON passages BEGIN
    INSERT OR REPLACE INTO deleted_passages (id, version)
    VALUES (old.id, COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'version'), 0) + 1);
END;

-- Passages whose keyword context (document title) changed at each write, for the same purpose.
CREATE TABLE IF NOT EXISTS restemmed_passages (
    id      INTEGER PRIMARY KEY,
    version INTEGER NOT NULL
);

-- Near duplicates (indexer/near_duplicates.py): each document's MinHash signature, and the pairs of
-- documents whose text is nearly the same (the same deck as PPTX and PDF), both ways round.
CREATE TABLE IF NOT EXISTS document_signatures (
    document_id INTEGER PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    minhash     BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS near_duplicates (
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    other_id    INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    similarity  REAL NOT NULL,
    PRIMARY KEY (document_id, other_id)
);

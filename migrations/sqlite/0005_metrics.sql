-- Node metrics (issue 11). A series is one metric of one unit of one node; its samples
-- are kept as compressed chunks, one per series per window of `[metrics] chunk_minutes`.
CREATE TABLE metric_series (
    id       INTEGER PRIMARY KEY,
    cluster  TEXT NOT NULL,
    host     TEXT NOT NULL,
    metric   TEXT NOT NULL,
    scope    TEXT NOT NULL,            -- node, socket, memoryDomain, die, llc, core, hwthread, accelerator
    scope_id TEXT NOT NULL,            -- '' for the node
    stype    TEXT NOT NULL,            -- sub-unit, such as network; '' for none
    stype_id TEXT NOT NULL,
    UNIQUE (cluster, host, metric, scope, scope_id, stype, stype_id)
);

-- A rowid table, not WITHOUT ROWID: chunks are blobs of a few kB, and an index b-tree
-- (which WITHOUT ROWID is) keeps at most a quarter of a page in place, spilling the rest
-- into overflow pages it barely fills (measured: twice the bytes per sample).
CREATE TABLE metric_chunk (
    series_id INTEGER NOT NULL REFERENCES metric_series (id),
    start     INTEGER NOT NULL,        -- unix seconds of the first slot
    timestep  INTEGER NOT NULL,        -- seconds between slots
    data      BLOB    NOT NULL         -- pcodec-compressed f64 grid, NaN for gaps
);
CREATE UNIQUE INDEX metric_chunk_key ON metric_chunk (series_id, start);

-- The first stream sequence not yet stored in chunks: where reading resumes.
CREATE TABLE metric_position (
    stream TEXT PRIMARY KEY,
    seq    INTEGER NOT NULL
);

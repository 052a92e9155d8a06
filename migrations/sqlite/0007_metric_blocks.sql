-- Compacted days (issue 11): one row per metric of one node per day, holding every
-- series of that metric on the node (72 hwthreads, say) in one pcodec chunk. One row
-- instead of 72 spares their row and index overhead and the page space SQLite leaves
-- between rows of a few kB; one pcodec header instead of 72 (benches/metrics.rs).
CREATE TABLE metric_block (
    cluster  TEXT    NOT NULL,
    host     TEXT    NOT NULL,
    metric   TEXT    NOT NULL,
    start    INTEGER NOT NULL,        -- unix seconds of the first slot (midnight UTC)
    timestep INTEGER NOT NULL,
    members  BLOB    NOT NULL,        -- pcodec-compressed metric_series ids, in data order
    data     BLOB    NOT NULL         -- the members' grids one after the other, equal lengths
);
CREATE UNIQUE INDEX metric_block_key ON metric_block (cluster, host, metric, start);
CREATE INDEX metric_block_start ON metric_block (start);

-- Compacted days (issue 11): one row per metric of one node per day, holding every
-- series of that metric on the node (72 hwthreads, say) in one pcodec chunk. One row
-- instead of 72 spares their tuple and index overhead and the page space left between
-- rows of a few kB; one pcodec header instead of 72 (benches/metrics.rs).
CREATE TABLE metric_block (
    cluster  TEXT   NOT NULL,
    host     TEXT   NOT NULL,
    metric   TEXT   NOT NULL,
    start    BIGINT NOT NULL,         -- unix seconds of the first slot (midnight UTC)
    timestep BIGINT NOT NULL,
    members  BYTEA  NOT NULL,         -- pcodec-compressed metric_series ids, in data order
    data     BYTEA  NOT NULL,         -- the members' grids one after the other, equal lengths
    PRIMARY KEY (cluster, host, metric, start)
);
CREATE INDEX metric_block_start ON metric_block (start);
-- pcodec's output does not compress further: TOAST stores it without trying.
ALTER TABLE metric_block ALTER COLUMN data SET STORAGE EXTERNAL;

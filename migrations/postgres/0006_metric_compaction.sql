-- Compaction (tsdb/compact.rs) walks the chunks of one day at a time.
CREATE INDEX metric_chunk_start ON metric_chunk (start);
-- A day chunk is 2-3 kB: keep it in the row (up to 8 kB) instead of TOAST's 2 kB slices
-- in a side table, which cost about 0.4 bytes per sample more (benches/metrics.rs).
ALTER TABLE metric_chunk SET (toast_tuple_target = 8160);
ALTER TABLE metric_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

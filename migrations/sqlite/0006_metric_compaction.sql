-- Compaction (tsdb/compact.rs) walks the chunks of one day at a time.
CREATE INDEX metric_chunk_start ON metric_chunk (start);

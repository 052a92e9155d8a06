-- The number of all jobs, for the unfiltered job list: an exact COUNT(*) over ten million
-- rows reads the whole of an index on every page. Triggers keep it in one row (SQLite
-- has one writer at a time, so nobody waits on it). Stopping a job changes no total:
-- only inserts and deletes touch it. Postgres spreads it over 16 rows; the sum is the
-- total on both.
CREATE TABLE job_total (
    slot INTEGER PRIMARY KEY,
    n    INTEGER NOT NULL
);
INSERT INTO job_total (slot, n) SELECT 0, COUNT(*) FROM job;

CREATE TRIGGER job_total_insert AFTER INSERT ON job
BEGIN
    UPDATE job_total SET n = n + 1 WHERE slot = 0;
END;
CREATE TRIGGER job_total_delete AFTER DELETE ON job
BEGIN
    UPDATE job_total SET n = n - 1 WHERE slot = 0;
END;

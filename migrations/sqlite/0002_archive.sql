-- Archiving (issue 3). The database is the archive queue: a stopped job with
-- monitoring_status = 1 waits; 3 is archived (location set), 2 failed (error kept).
-- A process claims a batch with a lease (token + expiry) in a short transaction, writes
-- the files outside any transaction, then sets status 3 only while its lease holds. A
-- crash leaves an expired lease: the job is archived again, to identical files.
ALTER TABLE job ADD COLUMN archive_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job ADD COLUMN archive_error TEXT;
ALTER TABLE job ADD COLUMN archive_location TEXT;
ALTER TABLE job ADD COLUMN archived_at INTEGER;
ALTER TABLE job ADD COLUMN archive_next_try INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job ADD COLUMN archive_lease TEXT;
ALTER TABLE job ADD COLUMN archive_lease_until INTEGER;

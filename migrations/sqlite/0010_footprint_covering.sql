-- A footprint sort over a filtered list reads the value of every matching job (issue 12).
-- Keyed by (job_id, name) WITHOUT ROWID, the key's b-tree holds the value, so each job
-- costs one lookup instead of the key's index and then the table. The table is rebuilt:
-- SQLite cannot change a table's kind in place. Its triggers go and come back unchanged.
DROP TRIGGER job_footprint_insert;
DROP TRIGGER job_footprint_update;

CREATE TABLE job_footprint_keyed (
    job_id INTEGER NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    name   TEXT    NOT NULL,
    value  REAL    NOT NULL,
    PRIMARY KEY (job_id, name)
) WITHOUT ROWID;
INSERT INTO job_footprint_keyed (job_id, name, value)
SELECT job_id, name, value FROM job_footprint ORDER BY job_id, name;
DROP TABLE job_footprint;
ALTER TABLE job_footprint_keyed RENAME TO job_footprint;
-- Sorting walks this index in value order; filters probe it by range.
CREATE INDEX job_footprint_value ON job_footprint (name, value, job_id);

CREATE TRIGGER job_footprint_insert AFTER INSERT ON job
WHEN NEW.footprint <> '{}'
BEGIN
    INSERT INTO job_footprint (job_id, name, value)
    SELECT NEW.id, key, value FROM json_each(NEW.footprint) WHERE type IN ('integer', 'real');
END;

CREATE TRIGGER job_footprint_update AFTER UPDATE OF footprint ON job
WHEN NEW.footprint IS NOT OLD.footprint
BEGIN
    DELETE FROM job_footprint WHERE job_id = NEW.id;
    INSERT INTO job_footprint (job_id, name, value)
    SELECT NEW.id, key, value FROM json_each(NEW.footprint) WHERE type IN ('integer', 'real');
END;

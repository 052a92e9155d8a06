-- Footprint values one per row (issue 12), so job lists filter and sort by a footprint
-- through an index instead of parsing every job's JSON. Triggers keep it equal to
-- job.footprint whichever statement writes that column.
CREATE TABLE job_footprint (
    job_id INTEGER NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    name   TEXT    NOT NULL,
    value  REAL    NOT NULL,
    PRIMARY KEY (job_id, name)
);
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

INSERT INTO job_footprint (job_id, name, value)
SELECT j.id, f.key, f.value FROM job j, json_each(j.footprint) f
WHERE j.footprint <> '{}' AND f.type IN ('integer', 'real');

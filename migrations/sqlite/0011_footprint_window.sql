-- The usual job list is a cluster's jobs started in a window (a day, a week). Sorted by a
-- footprint value, its values were looked up job by job. With each value's cluster and
-- start time beside it (the job's, copied by the triggers; neither changes for a job),
-- they are one range of one index.
ALTER TABLE job_footprint ADD COLUMN cluster TEXT NOT NULL DEFAULT '';
ALTER TABLE job_footprint ADD COLUMN start_time INTEGER NOT NULL DEFAULT 0;
UPDATE job_footprint SET cluster = j.cluster, start_time = j.start_time
FROM job j WHERE j.id = job_footprint.job_id;
CREATE INDEX job_footprint_window ON job_footprint (name, cluster, start_time, value);

DROP TRIGGER job_footprint_insert;
DROP TRIGGER job_footprint_update;

CREATE TRIGGER job_footprint_insert AFTER INSERT ON job
WHEN NEW.footprint <> '{}'
BEGIN
    INSERT INTO job_footprint (job_id, name, value, cluster, start_time)
    SELECT NEW.id, key, value, NEW.cluster, NEW.start_time
    FROM json_each(NEW.footprint) WHERE type IN ('integer', 'real');
END;

CREATE TRIGGER job_footprint_update AFTER UPDATE OF footprint, cluster, start_time ON job
WHEN NEW.footprint IS NOT OLD.footprint OR NEW.cluster IS NOT OLD.cluster
    OR NEW.start_time IS NOT OLD.start_time
BEGIN
    DELETE FROM job_footprint WHERE job_id = NEW.id;
    INSERT INTO job_footprint (job_id, name, value, cluster, start_time)
    SELECT NEW.id, key, value, NEW.cluster, NEW.start_time
    FROM json_each(NEW.footprint) WHERE type IN ('integer', 'real');
END;

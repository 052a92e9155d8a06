-- Footprint values one per row (issue 12), so job lists filter and sort by a footprint
-- through an index instead of parsing every job's JSON. A trigger keeps it equal to
-- job.footprint whichever statement writes that column.
CREATE TABLE job_footprint (
    job_id BIGINT           NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    name   TEXT             NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job_id, name)
);
-- Sorting walks this index in value order; filters probe it by range.
CREATE INDEX job_footprint_value ON job_footprint (name, value, job_id);

CREATE FUNCTION job_footprint_sync() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM job_footprint WHERE job_id = NEW.id;
    END IF;
    INSERT INTO job_footprint (job_id, name, value)
    SELECT NEW.id, f.key, (f.value #>> '{}')::DOUBLE PRECISION
    FROM jsonb_each(NEW.footprint::jsonb) f WHERE jsonb_typeof(f.value) = 'number';
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER job_footprint_insert AFTER INSERT ON job
FOR EACH ROW WHEN (NEW.footprint <> '{}') EXECUTE FUNCTION job_footprint_sync();
CREATE TRIGGER job_footprint_update AFTER UPDATE OF footprint ON job
FOR EACH ROW WHEN (NEW.footprint IS DISTINCT FROM OLD.footprint) EXECUTE FUNCTION job_footprint_sync();

INSERT INTO job_footprint (job_id, name, value)
SELECT j.id, f.key, (f.value #>> '{}')::DOUBLE PRECISION
FROM job j, jsonb_each(j.footprint::jsonb) f
WHERE j.footprint <> '{}' AND jsonb_typeof(f.value) = 'number';

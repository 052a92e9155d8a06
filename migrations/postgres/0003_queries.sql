-- Queries (issue 4): the indexes that answer admins' questions without scanning JSON.

-- Which jobs ran on a node: one row per (job, host), filled from `resources` at insert.
-- The host index carries job_ref, so "jobs on f0123" is an index-only scan.
CREATE TABLE job_node (
    job_ref    BIGINT NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    hostname   TEXT   NOT NULL,
    start_time BIGINT NOT NULL,                   -- the job's, so a node query is a range
    PRIMARY KEY (job_ref, hostname)
);
CREATE INDEX job_node_host ON job_node (hostname, start_time, job_ref);
INSERT INTO job_node (job_ref, hostname, start_time)
    SELECT j.id, r.value ->> 'hostname', j.start_time
    FROM job j, jsonb_array_elements(j.resources::jsonb) r
    WHERE r.value ->> 'hostname' IS NOT NULL
    ON CONFLICT DO NOTHING;

-- metaData.jobName as a column, for the jobName filter (substring or glob).
ALTER TABLE job ADD COLUMN job_name TEXT NOT NULL DEFAULT '';
UPDATE job SET job_name = COALESCE(meta_data::jsonb ->> 'jobName', '');

-- The tag filter goes from a tag to its jobs.
CREATE INDEX job_tag_tag ON job_tag (tag_id, job_id);
-- Managers read by project; array tasks are listed by their array job.
CREATE INDEX job_project_start ON job (project, start_time);
CREATE INDEX job_array ON job (array_job_id) WHERE array_job_id IS NOT NULL;
-- stop-time ranges, duration ranges and sorts; MAX(duration) bounds how far back a job
-- that overlaps a time window can have started (see store/filter.rs).
CREATE INDEX job_stop_time ON job (stop_time);
CREATE INDEX job_duration ON job (duration);
-- Running jobs, for windows: a job still running overlaps every window after its start.
CREATE INDEX job_running ON job (start_time) WHERE job_state = 'running';

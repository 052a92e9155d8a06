-- Queries (issue 4): the indexes that answer admins' questions without scanning JSON.

-- Which jobs ran on a node: one row per (job, host), filled from `resources` at insert.
-- WITHOUT ROWID keeps it one b-tree clustered by job; the second index holds the
-- primary key too, so "jobs on f0123" never reads the job rows it rules out.
CREATE TABLE job_node (
    job_ref    INTEGER NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    hostname   TEXT    NOT NULL,
    start_time INTEGER NOT NULL,                  -- the job's, so a node query is a range
    PRIMARY KEY (job_ref, hostname)
) WITHOUT ROWID;
CREATE INDEX job_node_host ON job_node (hostname, start_time);
INSERT OR IGNORE INTO job_node (job_ref, hostname, start_time)
    SELECT j.id, json_extract(r.value, '$.hostname'), j.start_time
    FROM job j, json_each(j.resources) r
    WHERE json_extract(r.value, '$.hostname') IS NOT NULL;

-- metaData.jobName as a column, for the jobName filter (substring or glob).
ALTER TABLE job ADD COLUMN job_name TEXT NOT NULL DEFAULT '';
UPDATE job SET job_name = COALESCE(json_extract(meta_data, '$.jobName'), '');

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

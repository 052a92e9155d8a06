-- Jobs by state (issue 12): "the running jobs of a cluster" is a small set in a large
-- table; counted and listed through this index instead of walking a cluster's jobs, and
-- the footprint sort of running jobs starts from it.
CREATE INDEX job_state_cluster_start ON job (job_state, cluster, start_time);

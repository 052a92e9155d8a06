-- The job ledger. SQLite flavour; postgres/0001_ledger.sql is the same schema.
-- Every integer is 64-bit so one code path (sqlx::Any) reads both databases alike.

-- One row per job *instance*: (cluster, job_id, start_time). Slurm reuses job ids
-- (requeue, wrap-around), so job_id alone is never a key.
CREATE TABLE job (
    id                INTEGER PRIMARY KEY,
    job_id            INTEGER NOT NULL,
    cluster           TEXT    NOT NULL,
    start_time        INTEGER NOT NULL,            -- unix seconds
    sub_cluster       TEXT    NOT NULL DEFAULT '',
    partition         TEXT    NOT NULL DEFAULT '',
    project           TEXT    NOT NULL DEFAULT '',
    user_name         TEXT    NOT NULL,
    shared            TEXT    NOT NULL,            -- none | single_user | multi_user
    job_state         TEXT    NOT NULL,
    stop_time         INTEGER,                     -- NULL while running
    duration          INTEGER NOT NULL DEFAULT 0,  -- stop_time - start_time once stopped
    walltime          INTEGER,
    requested_memory  INTEGER,                     -- MB; cc-backend drops it, we keep it
    submit_time       INTEGER,                     -- unix seconds; likewise kept
    array_job_id      INTEGER,
    smt               INTEGER NOT NULL,
    monitoring_status INTEGER NOT NULL,            -- 0 off, 1 waiting, 2 failed, 3 archived
    num_nodes         INTEGER NOT NULL,
    num_hwthreads     INTEGER,
    num_acc           INTEGER,
    energy            REAL,
    resources         TEXT    NOT NULL,            -- JSON array, as received
    meta_data         TEXT    NOT NULL,            -- JSON object string -> string
    footprint         TEXT    NOT NULL,            -- JSON object string -> number
    energy_footprint  TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
-- A repeated start finds its instance here; job_id first so the rules' pre-read by
-- job id uses it too.
CREATE UNIQUE INDEX job_instance ON job (job_id, cluster, start_time);
-- At most one running instance per (cluster, jobId), enforced by the database so that
-- several jobledger processes sharing it cannot create duplicates.
CREATE UNIQUE INDEX job_one_running ON job (job_id, cluster) WHERE job_state = 'running';
CREATE INDEX job_start_time ON job (start_time);
CREATE INDEX job_cluster_start ON job (cluster, start_time);
CREATE INDEX job_user_start ON job (user_name, start_time);
-- The archive queue (monitoring_status 1, stopped) and its failures (2) are counted and
-- claimed through this index.
CREATE INDEX job_monitoring ON job (monitoring_status, job_state);

-- Tags live in their own tables (cc-backend's layout); scope 'global' unless given.
CREATE TABLE tag (
    id        INTEGER PRIMARY KEY,
    tag_type  TEXT NOT NULL,
    tag_name  TEXT NOT NULL,
    tag_scope TEXT NOT NULL DEFAULT 'global'
);
CREATE UNIQUE INDEX tag_identity ON tag (tag_type, tag_name, tag_scope);

CREATE TABLE job_tag (
    job_id INTEGER NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tag (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, tag_id)
);

-- Current state per node. Allocation counters are overwritten on every report; only a
-- change of state or flags adds a history row.
CREATE TABLE node (
    cluster          TEXT    NOT NULL,
    hostname         TEXT    NOT NULL,
    node_state       TEXT    NOT NULL,             -- cc-backend's summary state
    flags            TEXT    NOT NULL,             -- every Slurm flag, sorted, comma-joined
    cpus_allocated   INTEGER,
    memory_allocated INTEGER,
    gpus_allocated   INTEGER,
    jobs_running     INTEGER,
    cpus_total       INTEGER,
    memory_total     INTEGER,
    gpus_total       INTEGER,
    state_since      INTEGER NOT NULL,             -- when node_state/flags last changed
    updated_at       INTEGER NOT NULL,             -- last report
    PRIMARY KEY (cluster, hostname)
);

CREATE TABLE node_state_history (
    id         INTEGER PRIMARY KEY,
    cluster    TEXT    NOT NULL,
    hostname   TEXT    NOT NULL,
    node_state TEXT    NOT NULL,
    flags      TEXT    NOT NULL,
    time       INTEGER NOT NULL
);
CREATE INDEX node_state_history_node ON node_state_history (cluster, hostname, time);

-- Stops whose start has not arrived yet. Applied when it does, rejected as
-- "no such job" after [ingest] held_stop_timeout_secs.
CREATE TABLE held_stop (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL,
    cluster     TEXT,                              -- NULL: the stop named no cluster
    start_time  INTEGER,                           -- NULL: the stop named no start time
    job_state   TEXT    NOT NULL,
    stop_time   INTEGER NOT NULL,
    subject     TEXT    NOT NULL,
    raw         BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    source_key  TEXT                               -- stream/seq/published/line; NULL from HTTP
);
CREATE INDEX held_stop_job ON held_stop (job_id);
-- A redelivered message must not be held twice.
CREATE UNIQUE INDEX held_stop_source ON held_stop (source_key);

-- Everything that could not be applied, with its raw bytes and the reason.
CREATE TABLE rejected_event (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    subject     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,                  -- decode | json | invalid | conflict | ...
    reason      TEXT    NOT NULL,
    raw         BLOB    NOT NULL,
    source_key  TEXT
);
CREATE UNIQUE INDEX rejected_event_source ON rejected_event (source_key);

//! Node states: the current row per node is overwritten on every report; a history row is
//! added only when the state or the flags change. 10,000 nodes reporting every minute then
//! cost 10,000 updates a minute, not 14 million history rows a day.

use super::values::{bind_all, chunk_rows, placeholders, style, Val};
use crate::domain::nodestate::{NodeReport, NodeStates};
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

const COLS: usize = 13;

pub(super) async fn apply(
    conn: &mut AnyConnection,
    ns: &NodeStates,
    now: i64,
) -> Result<(), sqlx::Error> {
    // Last report of a hostname wins; one statement must not touch a row twice.
    let mut latest: HashMap<&str, &NodeReport> = HashMap::new();
    for n in &ns.nodes {
        latest.insert(n.hostname.as_str(), n);
    }
    if latest.is_empty() {
        return Ok(());
    }
    let current: HashMap<String, (String, String)> =
        sqlx::query("SELECT hostname, node_state, flags FROM node WHERE cluster = $1")
            .bind(&ns.cluster)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?))))
            .collect::<Result<_, sqlx::Error>>()?;
    let mut nodes: Vec<&NodeReport> = latest.into_values().collect();
    nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    let changed: Vec<&NodeReport> = nodes
        .iter()
        .copied()
        .filter(|n| {
            current
                .get(&n.hostname)
                .is_none_or(|(s, f)| s != n.state || *f != n.flags)
        })
        .collect();
    for chunk in nodes.chunks(chunk_rows(COLS)) {
        upsert(conn, &ns.cluster, chunk, now).await?;
    }
    for chunk in changed.chunks(chunk_rows(5)) {
        let sql = format!(
            "INSERT INTO node_state_history (cluster, hostname, node_state, flags, time) VALUES {}",
            placeholders(style(conn), chunk.len(), 5)
        );
        let mut vals = Vec::with_capacity(chunk.len() * 5);
        for n in chunk {
            vals.extend([
                ns.cluster.as_str().into(),
                n.hostname.as_str().into(),
                n.state.into(),
                n.flags.as_str().into(),
                now.into(),
            ]);
        }
        bind_all(sqlx::query(&sql), vals)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn upsert(
    conn: &mut AnyConnection,
    cluster: &str,
    chunk: &[&NodeReport],
    now: i64,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO node (cluster, hostname, node_state, flags, cpus_allocated, memory_allocated, \
         gpus_allocated, jobs_running, cpus_total, memory_total, gpus_total, state_since, updated_at) \
         VALUES {} ON CONFLICT (cluster, hostname) DO UPDATE SET \
         state_since = CASE WHEN node.node_state <> excluded.node_state \
                             OR node.flags <> excluded.flags \
                            THEN excluded.state_since ELSE node.state_since END, \
         node_state = excluded.node_state, flags = excluded.flags, \
         cpus_allocated = excluded.cpus_allocated, memory_allocated = excluded.memory_allocated, \
         gpus_allocated = excluded.gpus_allocated, jobs_running = excluded.jobs_running, \
         cpus_total = COALESCE(excluded.cpus_total, node.cpus_total), \
         memory_total = COALESCE(excluded.memory_total, node.memory_total), \
         gpus_total = COALESCE(excluded.gpus_total, node.gpus_total), \
         updated_at = excluded.updated_at",
        placeholders(style(conn), chunk.len(), COLS)
    );
    let mut vals: Vec<Val> = Vec::with_capacity(chunk.len() * COLS);
    for n in chunk {
        vals.extend([
            cluster.into(),
            n.hostname.as_str().into(),
            n.state.into(),
            n.flags.as_str().into(),
            n.cpus_allocated.into(),
            n.memory_allocated.into(),
            n.gpus_allocated.into(),
            n.jobs_running.into(),
            n.cpus_total.into(),
            n.memory_total.into(),
            n.gpus_total.into(),
            now.into(),
            now.into(),
        ]);
    }
    bind_all(sqlx::query(&sql), vals)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

//! Edits after the fact: tags and per-job metadata (`tag_job`, `edit_meta`,
//! `/api/jobs/{id}/metadata/{key}`).

use super::write::tag_id;
use super::Store;
use crate::domain::job::Tag;
use std::collections::BTreeMap;

/// Concurrent metadata edits of one job retry this often before giving up.
const META_RETRIES: usize = 20;

/// Why a metadata edit did not happen. Only `Db` means the database failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// What is stored is not a JSON map of strings: editing it would wipe it.
    #[error("the stored metadata of job {job} is not a JSON map of strings ({reason}); it was left as it is")]
    Unreadable { job: i64, reason: String },
    #[error("the metadata of job {0} kept changing under {META_RETRIES} attempts to edit it")]
    Busy(i64),
}

impl Store {
    /// Attach tags (created if new). False if there is no such job.
    pub async fn add_tags(&self, job: i64, tags: &[Tag]) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if !touch(&mut tx, job).await? {
            return Ok(false);
        }
        for tag in tags {
            let id = tag_id(&mut tx, tag).await?;
            sqlx::query(
                "INSERT INTO job_tag (job_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(job)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Detach tags; tags the job does not carry are ignored. False if there is no such job.
    pub async fn remove_tags(&self, job: i64, tags: &[Tag]) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if !touch(&mut tx, job).await? {
            return Ok(false);
        }
        for tag in tags {
            sqlx::query(
                "DELETE FROM job_tag WHERE job_id = $1 AND tag_id IN (SELECT id FROM tag \
                 WHERE tag_type = $2 AND tag_name = $3 AND tag_scope = $4)",
            )
            .bind(job)
            .bind(&tag.tag_type)
            .bind(&tag.name)
            .bind(&tag.scope)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Set (`Some`) or delete (`None`) one metadata key. Returns the previous value, or
    /// `None` for no such job.
    ///
    /// A compare-and-swap on the stored text rather than a lock: the same statement on
    /// SQLite and Postgres, and two admins editing different keys of one job both win.
    pub async fn set_meta(
        &self,
        job: i64,
        key: &str,
        value: Option<&str>,
    ) -> Result<Option<Option<String>>, EditError> {
        for _ in 0..META_RETRIES {
            let Some(old) =
                sqlx::query_scalar::<_, String>("SELECT meta_data FROM job WHERE id = $1")
                    .bind(job)
                    .fetch_optional(&self.pool)
                    .await?
            else {
                return Ok(None);
            };
            let mut meta: BTreeMap<String, String> =
                serde_json::from_str(&old).map_err(|e| EditError::Unreadable {
                    job,
                    reason: e.to_string(),
                })?;
            let previous = match value {
                Some(v) => meta.insert(key.to_string(), v.to_string()),
                None => meta.remove(key),
            };
            // A map of strings always serialises.
            let new = serde_json::to_string(&meta).unwrap_or_else(|_| old.clone());
            let job_name = meta.get("jobName").cloned().unwrap_or_default();
            let done = sqlx::query(
                "UPDATE job SET meta_data = $1, job_name = $2, updated_at = $3 \
                 WHERE id = $4 AND meta_data = $5",
            )
            .bind(new)
            .bind(job_name)
            .bind(super::now())
            .bind(job)
            .bind(old)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 1 {
                return Ok(Some(previous));
            }
        }
        Err(EditError::Busy(job))
    }
}

/// Mark the job as changed now; false if it does not exist.
async fn touch(conn: &mut sqlx::AnyConnection, job: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE job SET updated_at = $1 WHERE id = $2")
        .bind(super::now())
        .bind(job)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// A running job's footprint and energy so far; a job that stopped meanwhile is left
    /// to the archiver. Returns whether the job was still running.
    pub async fn set_running_footprint(
        &self,
        id: i64,
        f: &crate::domain::footprint::Footprint,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE job SET footprint = $1, energy_footprint = $2, energy = COALESCE($3, energy) \
             WHERE id = $4 AND job_state = 'running'",
        )
        .bind(serde_json::to_string(&f.footprint).unwrap_or_default())
        .bind(serde_json::to_string(&f.energy_footprint).unwrap_or_default())
        .bind(f.energy)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

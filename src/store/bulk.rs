//! Bulk loads that bypass the rules: `jobledger seed` fills an empty database with
//! synthetic jobs for benchmarks. Never used on events.

use super::write::insert_new;
use super::{ApplyError, Store};
use crate::domain::rules::NewJob;

impl Store {
    /// Insert `jobs` as they are (with their node index rows and tags), in one transaction.
    pub async fn insert_jobs(&self, jobs: &[NewJob]) -> Result<usize, ApplyError> {
        let mut tx = self.pool.begin().await?;
        let ids = insert_new(&mut tx, jobs).await?;
        tx.commit().await?;
        Ok(ids.len())
    }
}

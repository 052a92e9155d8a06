//! The store's error type, and what a failed statement means for the events it carried.
//!
//! Only a refusal of the data itself may turn an event into a rejection. Everything else
//! (a dropped connection, a server shutting down, a full disk, a pool timeout, and any
//! error we do not recognise) is an outage: the batch waits and is applied again, never
//! rejected. The classification is positive for data errors so that a new kind of
//! failure errs on the side of keeping the event.

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("another writer changed the rows this batch read")]
    Stale,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl ApplyError {
    /// What the failure means.
    pub fn fault(&self) -> Fault {
        match self {
            ApplyError::Stale => Fault::Conflict,
            ApplyError::Db(e) => classify(e),
        }
    }

    /// Worth applying again at once.
    pub(super) fn is_contention(&self) -> bool {
        matches!(self.fault(), Fault::Conflict | Fault::Busy)
    }

    /// Waiting will not help: the data, or a conflict that outlasted every retry. Only
    /// this may turn an event into a rejection.
    pub fn refuses_data(&self) -> bool {
        matches!(self.fault(), Fault::Conflict | Fault::Data)
    }
}

/// How often work that met a concurrent writer is run again before the conflict is taken
/// to be the data's (or, for a SQLite lock, an outage).
const CONTENTION_RETRIES: u32 = 8;

/// The store's one contention policy: run `attempt` again while it meets a concurrent
/// writer or SQLite's taken writer slot, waiting 5 ms longer each time.
pub(super) async fn retry_contention<T, F, Fut>(mut attempt: F) -> Result<T, ApplyError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApplyError>>,
{
    let mut n = 0;
    loop {
        match attempt().await {
            Err(e) if e.is_contention() && n < CONTENTION_RETRIES => {
                n += 1;
                tracing::debug!(
                    attempt = n,
                    error = format!("{e:#}"),
                    "met a concurrent writer; trying again"
                );
                tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(n))).await;
            }
            other => return other,
        }
    }
}

/// The four things a failure can mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Another writer changed what this batch read: apply again now. A conflict that
    /// outlasts every retry belongs to the event itself (it is refused).
    Conflict,
    /// SQLite's single writer slot is taken: apply again now. A lock that outlasts every
    /// retry is an outage (another program holds the file), never the event's fault.
    Busy,
    /// The database refused this data: waiting will not help.
    Data,
    /// The database is unreachable or failing: wait and apply again.
    Outage,
}

/// Classify one error from sqlx.
pub(super) fn classify(e: &sqlx::Error) -> Fault {
    match e {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return Fault::Conflict;
            }
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite reports its extended result code as a decimal number.
                return sqlite_fault(code.parse().unwrap_or(0), db.message());
            }
            postgres_fault(&code)
        }
        // A value that cannot be encoded for the database is the data's fault.
        sqlx::Error::Encode(_) => Fault::Data,
        // Io, Tls, Protocol, PoolTimedOut, PoolClosed, WorkerCrashed, and the rest: the
        // database (or our connection to it) is not in a state to judge the data.
        _ => Fault::Outage,
    }
}

/// Postgres SQLSTATE: class 22 (data exception) and 23 (integrity constraint violation)
/// are refusals of the data; serialization failures and deadlocks are contention; classes
/// 08, 53, 57, 58 and everything else are outages.
fn postgres_fault(code: &str) -> Fault {
    match code {
        "40001" | "40P01" => Fault::Conflict,
        c if c.starts_with("22") || c.starts_with("23") => Fault::Data,
        _ => Fault::Outage,
    }
}

/// SQLite primary result codes (the low byte of the extended code).
fn sqlite_fault(code: i64, message: &str) -> Fault {
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const TOOBIG: i64 = 18;
    const CONSTRAINT: i64 = 19;
    const MISMATCH: i64 = 20;
    const RANGE: i64 = 25;
    match code & 0xff {
        BUSY | LOCKED => Fault::Busy,
        TOOBIG | CONSTRAINT | MISMATCH | RANGE => Fault::Data,
        _ if message.contains("database is locked") => Fault::Busy,
        // IOERR, FULL, CANTOPEN, NOMEM, READONLY, CORRUPT, PROTOCOL, …
        _ => Fault::Outage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_outage_classes_are_never_data_errors() {
        for code in [
            "08006", "08003", "53300", "57P01", "57P03", "58030", "XX000", "42P01",
        ] {
            assert_eq!(postgres_fault(code), Fault::Outage, "{code}");
        }
        for code in ["22021", "22P02", "22003", "23502", "23514"] {
            assert_eq!(postgres_fault(code), Fault::Data, "{code}");
        }
        assert_eq!(postgres_fault("40P01"), Fault::Conflict);
    }

    #[test]
    fn sqlite_codes_are_read_from_their_low_byte() {
        assert_eq!(sqlite_fault(5, ""), Fault::Busy);
        assert_eq!(sqlite_fault(517, ""), Fault::Busy); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(sqlite_fault(275, ""), Fault::Data); // SQLITE_CONSTRAINT_CHECK
        assert_eq!(sqlite_fault(1299, ""), Fault::Data); // SQLITE_CONSTRAINT_NOTNULL
        assert_eq!(sqlite_fault(10, ""), Fault::Outage); // SQLITE_IOERR
        assert_eq!(sqlite_fault(13, ""), Fault::Outage); // SQLITE_FULL
        assert_eq!(sqlite_fault(1, "database is locked"), Fault::Busy);
    }

    #[test]
    fn connection_failures_are_outages() {
        let io = sqlx::Error::Io(std::io::Error::other("reset"));
        assert_eq!(classify(&io), Fault::Outage);
        assert_eq!(classify(&sqlx::Error::PoolTimedOut), Fault::Outage);
        assert_eq!(classify(&sqlx::Error::PoolClosed), Fault::Outage);
        assert_eq!(classify(&sqlx::Error::Protocol("x".into())), Fault::Outage);
    }
}

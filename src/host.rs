//! Which host this process runs on: its name identifies it to operators, tells the first
//! node of an allocation (`emit`) and names the deployment that holds archive leases.

/// The host name, for `/api/version` and to tell the first node of an allocation.
pub(crate) fn server_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "jobledger".into())
}

//! The one retry policy: exponential backoff, capped, cut short by shutdown.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Waits that double from `first` up to `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The wait the next call to [`Backoff::wait`] will make.
    pub(crate) fn next_wait(&self) -> Duration {
        self.next
    }

    /// Sleep for the current wait and double it. False if shutdown came first.
    pub(crate) async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_double_up_to_the_cap_and_shutdown_cuts_them_short() {
        let token = CancellationToken::new();
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(3));
        assert!(b.wait(&token).await);
        assert_eq!(b.next_wait(), Duration::from_millis(2));
        assert!(b.wait(&token).await);
        assert!(b.wait(&token).await);
        assert_eq!(b.next_wait(), Duration::from_millis(3));
        token.cancel();
        let mut long = Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600));
        assert!(!long.wait(&token).await);
    }
}

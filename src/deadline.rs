//! Waiting for a deadline that may not exist: the select loops of the race and
//! of the mDNS browse have a timer only when something is pending.

use tokio::time::Instant;

/// Sleeps until `deadline`, or forever without one.
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

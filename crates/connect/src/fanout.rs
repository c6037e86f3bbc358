//! Running one operation against many targets, at most `ThrottleLimit` at a time (`-ThrottleLimit`).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{JoinSet, LocalSet};

/// PowerShell's default `-ThrottleLimit`.
pub const DEFAULT_THROTTLE_LIMIT: usize = 32;

/// The effective limit: 0 means the default, as in PowerShell.
pub fn effective_throttle_limit(throttle_limit: usize) -> usize {
    if throttle_limit == 0 { DEFAULT_THROTTLE_LIMIT } else { throttle_limit }
}

/// Runs `operation` for every target with at most `throttle_limit` (0 = 32) running at once, and returns each
/// target's result in the order the targets were given. A failure is reported for its target only; the others
/// still run. A panicking operation is reported as `Err(on_panic(target))`.
///
/// The operations run concurrently on the calling task's thread (a [`LocalSet`]), so they need not be `Send`.
pub async fn fan_out<T, R, E, F, Fut>(
    targets: Vec<T>,
    throttle_limit: usize,
    operation: F,
    on_panic: impl Fn(&T) -> E,
) -> Vec<(T, Result<R, E>)>
where
    T: Clone + 'static,
    R: 'static,
    E: 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<R, E>> + 'static,
{
    let semaphore = Arc::new(Semaphore::new(effective_throttle_limit(throttle_limit)));
    let mut results: Vec<Option<Result<R, E>>> = targets.iter().map(|_| None).collect();
    let local = LocalSet::new();
    local
        .run_until(async {
            let mut tasks = JoinSet::new();
            for (index, target) in targets.iter().cloned().enumerate() {
                let semaphore = Arc::clone(&semaphore);
                let future = operation(target);
                tasks.spawn_local(async move {
                    // The semaphore is never closed, so acquiring only waits.
                    let _permit = semaphore.acquire_owned().await;
                    (index, future.await)
                });
            }
            while let Some(joined) = tasks.join_next().await {
                if let Ok((index, result)) = joined
                    && let Some(slot) = results.get_mut(index)
                {
                    *slot = Some(result);
                }
            }
        })
        .await;
    targets
        .into_iter()
        .zip(results)
        .map(|(target, result)| {
            let result = result.unwrap_or_else(|| Err(on_panic(&target)));
            (target, result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn at_most_throttle_limit_run_at_once_and_failures_stay_per_target() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let targets: Vec<u32> = (0..10).collect();
        let results = fan_out(
            targets,
            3,
            |t| {
                let running = Arc::clone(&running);
                let peak = Arc::clone(&peak);
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    if t % 4 == 1 { Err(format!("target {t} failed")) } else { Ok(t * 2) }
                }
            },
            |t| format!("target {t} panicked"),
        )
        .await;
        assert!(peak.load(Ordering::SeqCst) <= 3, "peak {}", peak.load(Ordering::SeqCst));
        assert!(peak.load(Ordering::SeqCst) >= 2);
        assert_eq!(results.len(), 10);
        for (t, r) in results {
            if t % 4 == 1 {
                assert_eq!(r, Err(format!("target {t} failed")));
            } else {
                assert_eq!(r, Ok(t * 2));
            }
        }
    }

    #[test]
    fn zero_means_default() {
        assert_eq!(effective_throttle_limit(0), 32);
        assert_eq!(effective_throttle_limit(5), 5);
    }
}

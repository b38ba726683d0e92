//! Leader election on a coordination.k8s.io/v1 `Lease`, as client-go's
//! `leaderelection` with a `LeaseLock`: one replica of the controller-manager or
//! scheduler works, the others wait to take over.
//!
//! The decision is pure: [`decide`] looks at the lease, the time and who we are, and
//! returns an [`Action`]; [`LeaderElector`] performs it (a conditional create or
//! replace, so two candidates racing cannot both win: the loser gets 409).
//!
//! A lease is held while `renewTime + leaseDurationSeconds` is in the future. The
//! holder renews every `retry_period` and steps down if it has not managed to renew
//! for `renew_deadline` (shorter than the lease duration, so it stops working before
//! anyone else may start). Clocks of candidates must agree to well within
//! `lease_duration - renew_deadline`.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::api::Api;
use crate::client::Client;
use crate::error::Result;
use crate::params::PostParams;

/// Timing and identity of one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Namespace of the Lease (`kube-system` upstream).
    pub namespace: String,
    /// Name of the Lease (`rudder-controller-manager`).
    pub name: String,
    /// This candidate's identity, unique among candidates (`hostname_uuid`).
    pub identity: String,
    /// How long a lease lasts without renewal; others wait this long to take over.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// Upstream's defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        LeaderElectionConfig {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What a candidate should do about the lease.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// No lease exists: create it holding it.
    Create(LeaseSpec),
    /// We hold it: write this renewed spec.
    Renew(LeaseSpec),
    /// Someone else held it but it expired (or was released): take it over.
    Acquire(LeaseSpec),
    /// Someone else holds it until `expires`: wait and look again.
    Follow {
        /// The current holder.
        holder: String,
        /// When the holder's lease runs out unless renewed.
        expires: Timestamp,
    },
}

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX).max(1)
}

/// The pure decision of one round (see the module docs).
pub fn decide(
    lease: Option<&Lease>,
    now: Timestamp,
    identity: &str,
    lease_duration: Duration,
) -> Action {
    let fresh = |transitions: i32| LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(seconds(lease_duration)),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..Default::default()
    };
    let Some(lease) = lease else {
        return Action::Create(fresh(0));
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let transitions = spec.lease_transitions.unwrap_or(0);
    if holder == identity {
        return Action::Renew(LeaseSpec {
            holder_identity: Some(identity.to_string()),
            lease_duration_seconds: Some(seconds(lease_duration)),
            acquire_time: spec.acquire_time.or(Some(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..spec
        });
    }
    if !holder.is_empty() {
        let duration =
            SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
        let renewed = spec.renew_time.or(spec.acquire_time).map(|t| t.0);
        if let Some(renewed) = renewed
            && let Ok(expires) = renewed.checked_add(duration)
            && expires > now
        {
            return Action::Follow { holder, expires };
        }
    }
    Action::Acquire(fresh(transitions + 1))
}

/// The spec that gives a held lease up, so a successor need not wait for it to expire
/// (client-go's `ReleaseOnCancel`): no holder, and a 1-second duration.
pub fn release(lease: &Lease, now: Timestamp, identity: &str) -> Option<LeaseSpec> {
    let spec = lease.spec.clone().unwrap_or_default();
    if spec.holder_identity.as_deref() != Some(identity) {
        return None;
    }
    Some(LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        renew_time: Some(MicroTime(now)),
        ..spec
    })
}

/// The wall-clock time (k8s-openapi's jiff is built without its `std` clock).
fn wall_clock_now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanosecond(since_epoch.as_nanos() as i128).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Whether we lead, as [`LeaderElector::leadership`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leadership {
    /// Not known yet (no round finished).
    Unknown,
    /// We hold the lease: do the work.
    Leading,
    /// Someone else holds it (None: nobody, or not readable).
    Following(Option<String>),
}

/// Runs leader election for one candidate: acquires, renews, observes and releases the
/// Lease, and publishes whether we lead.
///
/// ```no_run
/// # async fn f(client: rudder_client::Client) {
/// use rudder_client::leader::{LeaderElectionConfig, LeaderElector, Leadership};
/// let config = LeaderElectionConfig::new("kube-system", "rudder-scheduler", "host-1");
/// let elector = LeaderElector::new(client, config);
/// let mut leadership = elector.leadership();
/// let shutdown = tokio_util::sync::CancellationToken::new();
/// tokio::spawn(elector.run(shutdown.clone()));
/// leadership.wait_for(|l| *l == Leadership::Leading).await.unwrap();
/// // ... work until leadership changes away from Leading, then stop working.
/// # }
/// ```
#[derive(Debug)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    state: watch::Sender<Leadership>,
}

impl LeaderElector {
    /// A candidate; nothing happens until [`LeaderElector::run`].
    pub fn new(client: Client, config: LeaderElectionConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
            state: watch::Sender::new(Leadership::Unknown),
        }
    }

    /// A receiver of leadership changes. Stop working as soon as it leaves `Leading`.
    pub fn leadership(&self) -> watch::Receiver<Leadership> {
        self.state.subscribe()
    }

    /// One round: read the lease, decide, write. Returns whether we lead afterwards.
    /// A 409 (someone else wrote first) is a lost round, not an error.
    pub async fn try_acquire_or_renew(&self) -> Result<Leadership> {
        let lease = self.api.get_opt(&self.config.name).await?;
        let now = wall_clock_now();
        let action = decide(
            lease.as_ref(),
            now,
            &self.config.identity,
            self.config.lease_duration,
        );
        let written = match action {
            Action::Follow { holder, .. } => return Ok(Leadership::Following(Some(holder))),
            Action::Create(spec) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(spec),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Action::Renew(spec) | Action::Acquire(spec) => {
                let mut lease = lease.unwrap_or_default();
                lease.spec = Some(spec);
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(_) => Ok(Leadership::Leading),
            Err(err) if err.is_conflict() || err.is_already_exists() => {
                Ok(Leadership::Following(None))
            }
            Err(err) => Err(err),
        }
    }

    /// Gives the lease up if we hold it.
    pub async fn release(&self) -> Result<()> {
        if let Some(mut lease) = self.api.get_opt(&self.config.name).await?
            && let Some(spec) = release(&lease, wall_clock_now(), &self.config.identity)
        {
            lease.spec = Some(spec);
            self.api
                .replace(&self.config.name, &PostParams::default(), &lease)
                .await?;
        }
        Ok(())
    }

    /// Campaigns until `shutdown`: every `retry_period`, acquire or renew; step down
    /// when renewal fails for `renew_deadline`; on shutdown, release the lease if held.
    pub async fn run(self, shutdown: CancellationToken) {
        let span = tracing::info_span!("leader_election", lease = %self.config.name, identity = %self.config.identity);
        async {
            let mut last_renewed: Option<tokio::time::Instant> = None;
            loop {
                let outcome = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    outcome = self.try_acquire_or_renew() => outcome,
                };
                let leading = *self.state.borrow() == Leadership::Leading;
                let next = match outcome {
                    Ok(Leadership::Leading) => {
                        last_renewed = Some(tokio::time::Instant::now());
                        Leadership::Leading
                    }
                    Ok(other) => other,
                    Err(err) => {
                        tracing::warn!(error = %err, "leader election round failed");
                        let within_deadline = last_renewed
                            .is_some_and(|at| at.elapsed() < self.config.renew_deadline);
                        if leading && within_deadline {
                            Leadership::Leading
                        } else {
                            Leadership::Following(None)
                        }
                    }
                };
                if next != Leadership::Leading {
                    last_renewed = None;
                }
                self.state.send_if_modified(|current| {
                    if *current != next {
                        tracing::info!(?next, "leadership changed");
                        *current = next;
                        true
                    } else {
                        false
                    }
                });
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(self.config.retry_period) => {}
                }
            }
            if *self.state.borrow() == Leadership::Leading {
                self.state.send_replace(Leadership::Following(None));
                if let Err(err) = self.release().await {
                    tracing::warn!(error = %err, "releasing the lease failed; it will expire");
                }
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn lease(holder: &str, renewed: i64, transitions: i32) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some("l".into()),
                resource_version: Some("4".into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: (!holder.is_empty()).then(|| holder.to_string()),
                lease_duration_seconds: Some(15),
                acquire_time: Some(MicroTime(at(0))),
                renew_time: Some(MicroTime(at(renewed))),
                lease_transitions: Some(transitions),
                ..Default::default()
            }),
        }
    }

    const D: Duration = Duration::from_secs(15);

    fn spec(holder: &str, acquired: i64, renewed: i64, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(at(acquired))),
            renew_time: Some(MicroTime(at(renewed))),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    #[test]
    fn no_lease_is_created_held_by_us() {
        assert_eq!(
            decide(None, at(3), "me", D),
            Action::Create(spec("me", 3, 3, 0))
        );
    }

    #[test]
    fn our_lease_is_renewed_keeping_its_acquire_time() {
        assert_eq!(
            decide(Some(&lease("me", 5, 2)), at(7), "me", D),
            Action::Renew(spec("me", 0, 7, 2))
        );
    }

    #[test]
    fn a_live_lease_of_another_is_followed_until_it_expires() {
        assert_eq!(
            decide(Some(&lease("other", 5, 2)), at(19), "me", D),
            Action::Follow {
                holder: "other".into(),
                expires: at(20)
            }
        );
    }

    #[test]
    fn an_expired_or_released_lease_is_acquired_with_one_more_transition() {
        assert_eq!(
            decide(Some(&lease("other", 5, 2)), at(20), "me", D),
            Action::Acquire(spec("me", 20, 20, 3))
        );
        assert_eq!(
            decide(Some(&lease("", 5, 2)), at(6), "me", D),
            Action::Acquire(spec("me", 6, 6, 3))
        );
    }

    #[test]
    fn release_clears_the_holder_only_if_we_hold_it() {
        let released = release(&lease("me", 5, 2), at(8), "me").unwrap();
        assert_eq!(released.holder_identity, None);
        assert_eq!(released.lease_duration_seconds, Some(1));
        assert_eq!(release(&lease("other", 5, 2), at(8), "me"), None);
        // After a release, the next candidate acquires at once.
        let mut l = lease("me", 5, 2);
        l.spec = Some(released);
        assert!(matches!(
            decide(Some(&l), at(9), "next", D),
            Action::Acquire(_)
        ));
    }
}

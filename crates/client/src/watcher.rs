//! The watcher: list, then watch from the list's resourceVersion, resume from the last
//! resourceVersion seen when the stream drops, list again on 410 Gone; forever, with
//! back-off on errors. Its events feed a cache ([`crate::reflector`]).
//!
//! The deciding part is pure: [`WatcherState::step`] takes the state and what the last
//! request gave ([`Input`]) and returns the next state, the events to emit and
//! whether to back off. [`watcher`] only performs the request each state asks for
//! ([`WatcherState::next_request`]). Modelled on kube-runtime's `watcher.rs`.
//!
//! ```text
//!            list page (continue)                 Listed{continue: None}
//!   Empty ─────────────────────────► InitPage ──────────────────────────► InitListed{rv}
//!     ▲  (emits Init, InitApply..)      │ (InitApply.., InitDone)            │ watch(rv) opened
//!     │                                 │                                    ▼
//!     └──── 410 Gone (list or watch) ◄──┴──────────────────────────── Watching{rv}
//!                                           stream ended / dropped:    │ Added/Modified → Apply
//!                                           back to InitListed{rv}     │ Deleted → Delete
//!                                                                      │ Bookmark → rv only
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use futures::Stream;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::api::{Api, WatchEvent};
use crate::backoff::{Backoff, BackoffConfig};
use crate::error::{Error, Result};
use crate::object::{Object, ObjectList};
use crate::params::{ListParams, WatchParams};

/// What a watcher tells a cache.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<K> {
    /// A (re)list begins: buffer the following `InitApply` objects as the new state.
    /// A second `Init` means the watcher restarted (410 Gone) and the cache must be
    /// replaced, not patched.
    Init,
    /// An object of the initial list.
    InitApply(K),
    /// The list is complete: swap the buffered objects in, deleting every object that
    /// is no longer there. The cache is now synced.
    InitDone,
    /// An object was added or changed while watching.
    Apply(K),
    /// An object was deleted while watching; this is its last state.
    Delete(K),
}

/// Where the watcher is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatcherState {
    /// Nothing listed yet, or a 410 made the list worthless: list from scratch.
    Empty,
    /// A paged list is under way; the next page is at `continue_token`.
    InitPage {
        /// The continue token of the next page.
        continue_token: String,
    },
    /// Listed (or a stream ended): open a watch from `resource_version`.
    InitListed {
        /// The resourceVersion to watch from.
        resource_version: String,
    },
    /// A watch stream is open; events after `resource_version` are arriving.
    Watching {
        /// The resourceVersion of the last event seen.
        resource_version: String,
    },
}

/// The request a state asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// List a page; `continue_token` None for the first.
    List {
        /// The page to fetch.
        continue_token: Option<String>,
    },
    /// Open a watch from this resourceVersion.
    Watch {
        /// Events after this revision.
        resource_version: String,
    },
    /// Read the next event of the open stream.
    NextEvent,
}

/// What a request gave.
#[derive(Debug)]
pub enum Input<K> {
    /// A list page.
    Listed(ObjectList<K>),
    /// The list failed.
    ListFailed(Error),
    /// The watch stream is open.
    WatchOpened,
    /// Opening the watch failed.
    WatchFailed(Error),
    /// One event of the stream.
    Event(WatchEvent<K>),
    /// The stream failed in the middle (connection dropped, undecodable event).
    StreamFailed(Error),
    /// The server ended the stream cleanly (timeout, restart).
    StreamEnded,
}

/// What to do about back-off after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackoffAction {
    /// Progress was made: forget earlier failures.
    Reset,
    /// A failure: wait the next back-off delay before the next request.
    Wait,
    /// Neither (the request is the natural next one).
    Continue,
}

/// The result of one [`WatcherState::step`].
#[derive(Debug)]
pub struct Step<K> {
    /// The state to be in next.
    pub state: WatcherState,
    /// Events for the cache, in order.
    pub events: Vec<Event<K>>,
    /// An error to report (the watcher goes on regardless).
    pub error: Option<Error>,
    /// Whether to back off before the next request.
    pub backoff: BackoffAction,
}

impl<K> Step<K> {
    fn to(state: WatcherState, events: Vec<Event<K>>, backoff: BackoffAction) -> Self {
        Step {
            state,
            events,
            error: None,
            backoff,
        }
    }

    fn failed(state: WatcherState, error: Error) -> Self {
        Step {
            state,
            events: Vec::new(),
            error: Some(error),
            backoff: BackoffAction::Wait,
        }
    }
}

impl WatcherState {
    /// The request this state needs next.
    pub fn next_request(&self) -> Request {
        match self {
            WatcherState::Empty => Request::List {
                continue_token: None,
            },
            WatcherState::InitPage { continue_token } => Request::List {
                continue_token: Some(continue_token.clone()),
            },
            WatcherState::InitListed { resource_version } => Request::Watch {
                resource_version: resource_version.clone(),
            },
            WatcherState::Watching { .. } => Request::NextEvent,
        }
    }

    /// The pure transition: from this state, given what the last request gave.
    pub fn step<K: Object>(self, input: Input<K>) -> Step<K> {
        use WatcherState::*;
        match (self, input) {
            (state @ (Empty | InitPage { .. }), Input::Listed(list)) => {
                let mut events = Vec::with_capacity(list.items.len() + 2);
                if state == Empty {
                    events.push(Event::Init);
                }
                let next = match list.continue_token() {
                    Some(token) => InitPage {
                        continue_token: token.to_string(),
                    },
                    None => InitListed {
                        resource_version: list.resource_version().to_string(),
                    },
                };
                let done = matches!(next, InitListed { .. });
                events.extend(list.items.into_iter().map(Event::InitApply));
                if done {
                    events.push(Event::InitDone);
                }
                Step::to(next, events, BackoffAction::Reset)
            }
            // A continue token (or list resourceVersion) too old: start the list again.
            (Empty | InitPage { .. }, Input::ListFailed(err)) if err.is_expired() => {
                Step::failed(Empty, err)
            }
            (state @ (Empty | InitPage { .. }), Input::ListFailed(err)) => Step::failed(state, err),
            (InitListed { resource_version }, Input::WatchOpened) => Step::to(
                Watching { resource_version },
                Vec::new(),
                BackoffAction::Continue,
            ),
            (InitListed { .. }, Input::WatchFailed(err)) if err.is_expired() => {
                Step::to(Empty, Vec::new(), BackoffAction::Continue).with_error(err)
            }
            (state @ InitListed { .. }, Input::WatchFailed(err)) => Step::failed(state, err),
            (Watching { resource_version }, Input::Event(event)) => match event {
                WatchEvent::Added(obj) | WatchEvent::Modified(obj) => {
                    let rv = obj
                        .resource_version()
                        .unwrap_or(&resource_version)
                        .to_string();
                    Step::to(
                        Watching {
                            resource_version: rv,
                        },
                        vec![Event::Apply(obj)],
                        BackoffAction::Reset,
                    )
                }
                WatchEvent::Deleted(obj) => {
                    let rv = obj
                        .resource_version()
                        .unwrap_or(&resource_version)
                        .to_string();
                    Step::to(
                        Watching {
                            resource_version: rv,
                        },
                        vec![Event::Delete(obj)],
                        BackoffAction::Reset,
                    )
                }
                WatchEvent::Bookmark {
                    resource_version: rv,
                } => {
                    let rv = if rv.is_empty() { resource_version } else { rv };
                    Step::to(
                        Watching {
                            resource_version: rv,
                        },
                        Vec::new(),
                        BackoffAction::Reset,
                    )
                }
                WatchEvent::Error(status) => {
                    let err = Error::from_status(*status);
                    if err.is_expired() {
                        Step::to(Empty, Vec::new(), BackoffAction::Continue).with_error(err)
                    } else {
                        Step::failed(InitListed { resource_version }, err)
                    }
                }
            },
            (Watching { .. }, Input::StreamFailed(err)) if err.is_expired() => {
                Step::to(Empty, Vec::new(), BackoffAction::Continue).with_error(err)
            }
            (Watching { resource_version }, Input::StreamFailed(err)) => {
                Step::failed(InitListed { resource_version }, err)
            }
            (Watching { resource_version }, Input::StreamEnded) => Step::to(
                InitListed { resource_version },
                Vec::new(),
                BackoffAction::Continue,
            ),
            // An input the state did not ask for is a driver bug; relisting is always
            // correct for a level-triggered cache.
            (state, input) => {
                tracing::error!(
                    ?state,
                    input = input_name(&input),
                    "watcher input out of order; relisting"
                );
                Step::to(Empty, Vec::new(), BackoffAction::Wait)
            }
        }
    }
}

impl<K> Step<K> {
    fn with_error(mut self, error: Error) -> Self {
        self.error = Some(error);
        self
    }
}

fn input_name<K>(input: &Input<K>) -> &'static str {
    match input {
        Input::Listed(_) => "Listed",
        Input::ListFailed(_) => "ListFailed",
        Input::WatchOpened => "WatchOpened",
        Input::WatchFailed(_) => "WatchFailed",
        Input::Event(_) => "Event",
        Input::StreamFailed(_) => "StreamFailed",
        Input::StreamEnded => "StreamEnded",
    }
}

/// How a watcher lists and watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherConfig {
    /// Label selector of list and watch.
    pub label_selector: Option<String>,
    /// Field selector of list and watch.
    pub field_selector: Option<String>,
    /// Page size of the initial list; None lists everything at once.
    pub page_size: Option<i64>,
    /// Ask for bookmarks, so a resumed watch starts from a recent revision.
    pub bookmarks: bool,
    /// Ask the server to end each watch after this many seconds; the watcher then
    /// resumes from the last resourceVersion (a periodic check that the stream is live).
    pub timeout_seconds: Option<i64>,
    /// Back-off between failed requests.
    pub backoff: BackoffConfig,
}

impl Default for WatcherConfig {
    /// No selectors, pages of 500 as kubectl, bookmarks, 5-minute watches, 200 ms to
    /// 30 s back-off.
    fn default() -> Self {
        WatcherConfig {
            label_selector: None,
            field_selector: None,
            page_size: Some(500),
            bookmarks: true,
            timeout_seconds: Some(300),
            backoff: BackoffConfig::default(),
        }
    }
}

impl WatcherConfig {
    /// Watch only objects whose labels match.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Watch only objects whose fields match.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    fn list_params(&self, continue_token: Option<String>) -> ListParams {
        ListParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            limit: self.page_size,
            continue_token,
            resource_version: None,
        }
    }

    fn watch_params(&self) -> WatchParams {
        WatchParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            bookmarks: self.bookmarks,
            timeout_seconds: self.timeout_seconds,
        }
    }
}

/// The I/O half: performs the request of each state and feeds the result to `step`.
struct Driver<K: Object> {
    api: Api<K>,
    config: WatcherConfig,
    state: WatcherState,
    stream: Option<BoxStream<'static, Result<WatchEvent<K>>>>,
    pending: VecDeque<Result<Event<K>>>,
    backoff: Backoff,
    wait: Option<Duration>,
}

impl<K: Object> Driver<K> {
    async fn next(&mut self) -> Result<Event<K>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return item;
            }
            if let Some(delay) = self.wait.take() {
                tokio::time::sleep(delay).await;
            }
            let input = match self.state.next_request() {
                Request::List { continue_token } => {
                    match self
                        .api
                        .list(&self.config.list_params(continue_token))
                        .await
                    {
                        Ok(list) => Input::Listed(list),
                        Err(err) => Input::ListFailed(err),
                    }
                }
                Request::Watch { resource_version } => {
                    match self
                        .api
                        .watch(&self.config.watch_params(), &resource_version)
                        .await
                    {
                        Ok(stream) => {
                            self.stream = Some(stream.boxed());
                            Input::WatchOpened
                        }
                        Err(err) => Input::WatchFailed(err),
                    }
                }
                Request::NextEvent => match self.stream.as_mut() {
                    Some(stream) => match stream.next().await {
                        Some(Ok(event)) => Input::Event(event),
                        Some(Err(err)) => Input::StreamFailed(err),
                        None => Input::StreamEnded,
                    },
                    None => Input::StreamEnded,
                },
            };
            let state = std::mem::replace(&mut self.state, WatcherState::Empty);
            let step = state.step(input);
            if !matches!(step.state, WatcherState::Watching { .. }) {
                self.stream = None;
            }
            tracing::trace!(state = ?step.state, events = step.events.len(), "watcher step");
            self.state = step.state;
            self.pending.extend(step.events.into_iter().map(Ok));
            if let Some(err) = step.error {
                tracing::debug!(error = %err, "watcher request failed");
                self.pending.push_back(Err(err));
            }
            match step.backoff {
                BackoffAction::Reset => self.backoff.reset(),
                BackoffAction::Wait => self.wait = Some(self.backoff.next_delay()),
                BackoffAction::Continue => {}
            }
        }
    }
}

/// A never-ending stream of cache events for the objects of `api` (see the module
/// docs). Errors are yielded for logging and never end the stream: the watcher backs
/// off and carries on. Poll it from one task; it performs its requests as it is polled.
pub fn watcher<K: Object>(
    api: Api<K>,
    config: WatcherConfig,
) -> impl Stream<Item = Result<Event<K>>> + Send + 'static {
    let backoff = config.backoff.start();
    let driver = Driver {
        api,
        config,
        state: WatcherState::Empty,
        stream: None,
        pending: VecDeque::new(),
        backoff,
        wait: None,
    };
    futures::stream::unfold(driver, |mut driver| async move {
        let item = driver.next().await;
        Some((item, driver))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
    use rudder_api::status;

    fn pod(name: &str, rv: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn list(items: Vec<Pod>, rv: &str, continue_token: Option<&str>) -> Input<Pod> {
        Input::Listed(ObjectList {
            metadata: ListMeta {
                resource_version: Some(rv.into()),
                continue_: continue_token.map(str::to_string),
                ..Default::default()
            },
            items,
        })
    }

    fn expired() -> Error {
        Error::from_status(status::resource_expired(3, 9))
    }

    fn unavailable() -> Error {
        Error::from_grpc(tonic::Status::unavailable("connection reset"))
    }

    /// Runs inputs through `step` from `Empty`; returns (state, events, backoff) per step.
    fn run(inputs: Vec<Input<Pod>>) -> Vec<(WatcherState, Vec<Event<Pod>>, BackoffAction, bool)> {
        let mut state = WatcherState::Empty;
        inputs
            .into_iter()
            .map(|input| {
                let step = state.clone().step(input);
                state = step.state.clone();
                (step.state, step.events, step.backoff, step.error.is_some())
            })
            .collect()
    }

    fn listed(rv: &str) -> WatcherState {
        WatcherState::InitListed {
            resource_version: rv.into(),
        }
    }

    fn watching(rv: &str) -> WatcherState {
        WatcherState::Watching {
            resource_version: rv.into(),
        }
    }

    #[test]
    fn list_then_watch_then_resume_after_a_dropped_stream() {
        let steps = run(vec![
            list(vec![pod("a", "2"), pod("b", "3")], "5", None),
            Input::WatchOpened,
            Input::Event(WatchEvent::Modified(pod("a", "6"))),
            Input::Event(WatchEvent::Bookmark {
                resource_version: "8".into(),
            }),
            Input::StreamFailed(unavailable()),
            Input::WatchOpened,
            Input::Event(WatchEvent::Deleted(pod("b", "9"))),
            Input::StreamEnded,
        ]);
        use BackoffAction::*;
        assert_eq!(
            steps,
            vec![
                (
                    listed("5"),
                    vec![
                        Event::Init,
                        Event::InitApply(pod("a", "2")),
                        Event::InitApply(pod("b", "3")),
                        Event::InitDone
                    ],
                    Reset,
                    false
                ),
                (watching("5"), vec![], Continue, false),
                (
                    watching("6"),
                    vec![Event::Apply(pod("a", "6"))],
                    Reset,
                    false
                ),
                (watching("8"), vec![], Reset, false),
                (listed("8"), vec![], Wait, true),
                (watching("8"), vec![], Continue, false),
                (
                    watching("9"),
                    vec![Event::Delete(pod("b", "9"))],
                    Reset,
                    false
                ),
                (listed("9"), vec![], Continue, false),
            ]
        );
        assert_eq!(
            listed("9").next_request(),
            Request::Watch {
                resource_version: "9".into()
            }
        );
    }

    #[test]
    fn a_paged_list_emits_init_once_and_done_after_the_last_page() {
        let steps = run(vec![
            list(vec![pod("a", "2")], "5", Some("t1")),
            list(vec![pod("b", "3")], "5", None),
        ]);
        assert_eq!(
            steps,
            vec![
                (
                    WatcherState::InitPage {
                        continue_token: "t1".into()
                    },
                    vec![Event::Init, Event::InitApply(pod("a", "2"))],
                    BackoffAction::Reset,
                    false
                ),
                (
                    listed("5"),
                    vec![Event::InitApply(pod("b", "3")), Event::InitDone],
                    BackoffAction::Reset,
                    false
                ),
            ]
        );
    }

    #[test]
    fn gone_on_resume_relists_and_restarts_the_cache() {
        let steps = run(vec![
            list(vec![pod("a", "2")], "5", None),
            Input::WatchOpened,
            Input::StreamEnded,
            Input::WatchFailed(expired()),
            list(vec![pod("c", "12")], "12", None),
        ]);
        let states: Vec<_> = steps.iter().map(|s| s.0.clone()).collect();
        assert_eq!(
            states,
            [
                listed("5"),
                watching("5"),
                listed("5"),
                WatcherState::Empty,
                listed("12")
            ]
        );
        assert_eq!(
            steps[4].1,
            vec![
                Event::Init,
                Event::InitApply(pod("c", "12")),
                Event::InitDone
            ]
        );
        // The 410 is reported, but relisting at once is the remedy: no back-off.
        assert_eq!((steps[3].2, steps[3].3), (BackoffAction::Continue, true));
    }

    #[test]
    fn an_expired_error_event_relists_and_other_errors_back_off() {
        let mut state = watching("5");
        let step = state
            .clone()
            .step::<Pod>(Input::Event(WatchEvent::Error(Box::new(
                status::resource_expired(5, 9),
            ))));
        assert_eq!(step.state, WatcherState::Empty);
        let step = state
            .clone()
            .step::<Pod>(Input::Event(WatchEvent::Error(Box::new(
                status::internal_error("boom"),
            ))));
        assert_eq!(
            (step.state, step.backoff),
            (listed("5"), BackoffAction::Wait)
        );
        state = WatcherState::Empty;
        let step = state.clone().step::<Pod>(Input::ListFailed(unavailable()));
        assert_eq!(
            (step.state, step.backoff),
            (WatcherState::Empty, BackoffAction::Wait)
        );
        let page = WatcherState::InitPage {
            continue_token: "t".into(),
        };
        let step = page.clone().step::<Pod>(Input::ListFailed(expired()));
        assert_eq!(step.state, WatcherState::Empty);
        let step = page.step::<Pod>(Input::ListFailed(unavailable()));
        assert!(matches!(step.state, WatcherState::InitPage { .. }));
        let step = watching("5").step::<Pod>(Input::StreamFailed(expired()));
        assert_eq!(step.state, WatcherState::Empty);
        let step = listed("5").step::<Pod>(Input::WatchFailed(unavailable()));
        assert_eq!(
            (step.state, step.backoff),
            (listed("5"), BackoffAction::Wait)
        );
    }
}

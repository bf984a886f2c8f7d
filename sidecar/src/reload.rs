//! Hot reload: on SIGHUP, on a change of the watched files and on `POST /v1/reload`, a new
//! policy is loaded and swapped in atomically.
//!
//! **Key design decision:** the sidecar cannot compile policy text (it does not depend on
//! `rampart-lang`), so whoever starts it passes a [`PolicyLoader`] that builds a whole new
//! [`Policy`] (bundle and entities), and the paths that loader reads. The loader runs on a
//! thread of its own at the lowest scheduling priority (`priority.rs`), never on the async
//! workers, so that compiling a large policy set takes the CPU only when deciding leaves it
//! idle. Its result replaces the policy in one atomic store: a decision loads the policy
//! once, so requests in flight finish on the old one, which is then freed on such a thread
//! too, once the last of them is done. A loader that fails changes nothing: the old policy keeps serving, the error goes to
//! standard error and the answer of `POST /v1/reload`, and `rampart_reloads_total` counts
//! it. Reloads never overlap: a trigger that arrives while one runs waits, and is answered
//! by the next reload (one for all the triggers that queued), since that one reads the
//! files after the trigger arrived.

mod guard;
mod priority;
mod watch;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State as Shared;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value as Json};
use tokio::sync::Mutex;

use crate::http::{error_response, json_response};
use crate::server::ServeError;
use crate::state::{Policy, State};

pub use guard::EntityShrink;
pub use watch::Watched;

/// Builds a new policy from the files it was first built from; the error is shown to
/// operators as it is (one line per problem).
pub type PolicyLoader = Arc<dyn Fn() -> Result<Policy, String> + Send + Sync>;

/// How long a reload may read and build by default before it is abandoned.
pub const DEFAULT_RELOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// How long watched files must stay unchanged by default before a change is loaded.
pub const DEFAULT_WATCH_SETTLE: Duration = Duration::from_secs(2);

/// How the policy is reloaded: the loader, and what to watch for changes.
#[derive(Clone)]
pub struct Reload {
    pub loader: PolicyLoader,
    /// The files and folders the loader reads.
    pub watch: Vec<Watched>,
    /// How often the watched paths are checked; `None` turns watching off (SIGHUP and
    /// `POST /v1/reload` still reload).
    pub watch_interval: Option<Duration>,
    /// How long the watched files must look the same (sizes, modification times and
    /// contents) before a change is loaded; at least two checks are always made.
    pub watch_settle: Duration,
    /// The longest the loader (and the key-set read) may take: past it the reload fails
    /// and the old policy keeps serving.
    pub timeout: Duration,
    /// How much smaller the entity store may become in one reload.
    pub entity_shrink: EntityShrink,
    /// Where the policy comes from (a path or URL), shown by `GET /v1/status`.
    pub source: Option<String>,
    /// A remote bundle to poll; the loader builds from its slot.
    pub remote: Option<crate::remote::RemoteBundle>,
    /// Remote entity data to poll on its own; the loader reads it from its slot.
    pub remote_entities: Option<crate::remote::RemoteBundle>,
}

impl Reload {
    /// Reloads with `loader` on changes of `watch` (checked every second), with the
    /// default settle period, timeout and entity-shrink guard.
    pub fn new(loader: PolicyLoader, watch: Vec<Watched>) -> Reload {
        Reload {
            loader,
            watch,
            watch_interval: Some(Duration::from_secs(1)),
            watch_settle: DEFAULT_WATCH_SETTLE,
            timeout: DEFAULT_RELOAD_TIMEOUT,
            entity_shrink: EntityShrink::default(),
            source: None,
            remote: None,
            remote_entities: None,
        }
    }
}

impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reload")
            .field("watch", &self.watch)
            .field("watch_interval", &self.watch_interval)
            .field("watch_settle", &self.watch_settle)
            .field("timeout", &self.timeout)
            .field("entity_shrink", &self.entity_shrink)
            .field("source", &self.source)
            .field("remote", &self.remote)
            .field("remote_entities", &self.remote_entities)
            .finish_non_exhaustive()
    }
}

/// What set a reload off: named in the messages on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Signal,
    FileChange,
    Api,
    /// The poller fetched a new remote bundle (`remote.rs`).
    Remote,
}

impl Trigger {
    fn label(self) -> &'static str {
        match self {
            Trigger::Signal => "SIGHUP",
            Trigger::FileChange => "file change",
            Trigger::Api => "POST /v1/reload",
            Trigger::Remote => "remote bundle",
        }
    }
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// The revision serving before the reload.
    pub previous: String,
    /// The revision serving after it (the previous one when the reload failed).
    pub revision: String,
    /// Why the policy was not replaced.
    pub error: Option<String>,
    /// The loader itself failed (it panicked): an internal error, not a bad policy.
    pub internal: bool,
    /// The key set re-read along with the policy (`--jwks`): its key count or error.
    pub jwks: Option<Result<usize, String>>,
    /// The API key file re-read along with the policy (`--api-keys`): its key count or
    /// error (the old keys stay on error).
    pub api_keys: Option<Result<usize, String>>,
}

impl ReloadOutcome {
    /// True when everything was reloaded.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && !matches!(self.jwks, Some(Err(_)))
            && !matches!(self.api_keys, Some(Err(_)))
    }

    /// The answer of `POST /v1/reload`: 200, or 422 (500 for an internal error) with the
    /// errors.
    fn to_response(&self) -> Response {
        let mut body = Map::new();
        body.insert("reloaded".into(), json!(self.succeeded()));
        body.insert("revision".into(), json!(self.revision));
        body.insert("previous".into(), json!(self.previous));
        if let Some(error) = &self.error {
            body.insert("error".into(), json!(error));
        }
        match &self.jwks {
            Some(Ok(keys)) => {
                body.insert("jwks".into(), json!({ "keys": keys }));
            }
            Some(Err(error)) => {
                body.insert("jwks".into(), json!({ "error": error }));
            }
            None => {}
        }
        match &self.api_keys {
            Some(Ok(keys)) => {
                body.insert("api_keys".into(), json!({ "keys": keys }));
            }
            Some(Err(error)) => {
                body.insert("api_keys".into(), json!({ "error": error }));
            }
            None => {}
        }
        let status = if self.internal {
            StatusCode::INTERNAL_SERVER_ERROR
        } else if self.succeeded() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        json_response(status, Json::Object(body).to_string())
    }
}

/// Why work given to a blocking thread gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocked {
    /// A read of an earlier reload has not returned yet: nothing new is started.
    Stuck,
    /// The work did not finish within the timeout (its thread is left to finish).
    TimedOut(Duration),
    /// The work panicked.
    Panicked,
}

/// Runs reloads one at a time and remembers the last outcome for the triggers it covers.
pub struct Reloader {
    loader: PolicyLoader,
    timeout: Duration,
    entity_shrink: EntityShrink,
    /// Tickets handed to triggers, in order.
    tickets: AtomicU64,
    /// Reloads started (each reads the files afresh).
    runs: AtomicU64,
    /// Blocking jobs (loader, key set) still running; one still running when a reload
    /// starts outlived its timeout.
    running: Arc<AtomicUsize>,
    /// Held while a reload runs: the last reload's outcome and the last ticket it covers.
    last: Mutex<Option<(u64, Arc<ReloadOutcome>)>>,
}

impl Reloader {
    pub fn new(reload: &Reload) -> Reloader {
        Reloader {
            loader: Arc::clone(&reload.loader),
            timeout: reload.timeout,
            entity_shrink: reload.entity_shrink,
            tickets: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            running: Arc::new(AtomicUsize::new(0)),
            last: Mutex::new(None),
        }
    }

    /// Reloads the policy of `state`, or waits for the reload that covers this trigger.
    pub async fn reload(&self, state: &Arc<State>, trigger: Trigger) -> Arc<ReloadOutcome> {
        let ticket = self
            .tickets
            .fetch_add(1, Ordering::SeqCst)
            .saturating_add(1);
        let mut last = self.last.lock().await;
        if let Some((covered, outcome)) = last.as_ref() {
            if *covered >= ticket {
                return Arc::clone(outcome);
            }
        }
        // Every trigger with a ticket up to here arrived before the files are read.
        let covered = self.tickets.load(Ordering::SeqCst);
        self.runs.fetch_add(1, Ordering::SeqCst);
        let outcome = Arc::new(self.run(state, trigger).await);
        *last = Some((covered, Arc::clone(&outcome)));
        outcome
    }

    /// How many reloads have started so far.
    fn runs(&self) -> u64 {
        self.runs.load(Ordering::SeqCst)
    }

    /// Runs `work` on a thread of its own at the lowest scheduling priority and waits for
    /// it at most the reload timeout. A read cannot be cancelled: work that times out keeps
    /// its thread until it returns, and until then no other work starts, so a file that
    /// never answers holds one thread, not one per trigger.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Blocked> {
        if self.running.load(Ordering::SeqCst) > 0 {
            return Err(Blocked::Stuck);
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        /// Counts the work as finished however it ends (a panic, or a thread that could not
        /// be started, included).
        struct Done(Arc<AtomicUsize>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let done = Done(Arc::clone(&self.running));
        let (answer, answered) = tokio::sync::oneshot::channel();
        // A thread that cannot start drops `answer` (and `done`): counted as a panic.
        let _spawned = priority::spawn_lowest("rampart-reload", move || {
            // Declared in this order, `done` goes first on a panic too: the reload that
            // learns of the end must find the work counted as finished.
            let answer = answer;
            let done = done;
            let value = work();
            drop(done);
            // The reload may have timed out and gone: nobody to tell then.
            let _ = answer.send(value);
        });
        match tokio::time::timeout(self.timeout, answered).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(Blocked::Panicked),
            Err(_) => Err(Blocked::TimedOut(self.timeout)),
        }
    }

    async fn run(&self, state: &Arc<State>, trigger: Trigger) -> ReloadOutcome {
        let started = Instant::now();
        let previous = state.policy().revision().to_owned();
        let loader = Arc::clone(&self.loader);
        let loaded = self.blocking(move || loader()).await;
        let mut outcome = ReloadOutcome {
            revision: previous.clone(),
            previous,
            error: None,
            internal: false,
            jwks: None,
            api_keys: None,
        };
        match loaded {
            Ok(Ok(policy)) => {
                let serving = state.policy();
                match self
                    .entity_shrink
                    .check(&serving.entities, &policy.entities)
                {
                    Err(refused) => outcome.error = Some(refused),
                    Ok(()) => {
                        outcome.revision = policy.revision().to_owned();
                        let old = state.replace_policy(policy);
                        drop(serving);
                        retire(old);
                    }
                }
            }
            Ok(Err(error)) => outcome.error = Some(error),
            Err(Blocked::Panicked) => {
                outcome.error = Some("internal error while loading the policy".to_owned());
                outcome.internal = true;
            }
            Err(blocked) => outcome.error = Some(blocked_message(blocked, "the policy")),
        }
        if state.auth.reloads_key_file() {
            // Re-reads the JWKS file of `--jwks`; its old key set keeps serving on failure.
            let shared = Arc::clone(state);
            let keys = self.blocking(move || shared.auth.reload()).await;
            outcome.jwks = Some(match keys {
                Ok(Ok(keys)) => Ok(keys),
                Ok(Err(error)) => Err(error.to_string()),
                Err(Blocked::Panicked) => {
                    Err("internal error while reading the key set".to_owned())
                }
                Err(blocked) => Err(blocked_message(blocked, "the key set")),
            });
        }
        if state.auth.has_api_keys() {
            // Re-reads the file of `--api-keys`; its old keys keep serving on failure.
            let shared = Arc::clone(state);
            let keys = self.blocking(move || shared.auth.reload_api_keys()).await;
            outcome.api_keys = match keys {
                Ok(Some(Ok(keys))) => Some(Ok(keys)),
                Ok(Some(Err(error))) => Some(Err(error.to_string())),
                Ok(None) => None,
                Err(Blocked::Panicked) => Some(Err(
                    "internal error while reading the API key file".to_owned(),
                )),
                Err(blocked) => Some(Err(blocked_message(blocked, "the API key file"))),
            };
        }
        state.metrics.reloaded(outcome.succeeded());
        report(&outcome, trigger, started.elapsed());
        outcome
    }
}

/// The error of a reload whose blocking work gave no answer.
fn blocked_message(blocked: Blocked, what: &str) -> String {
    match blocked {
        Blocked::Stuck => format!(
            "{what} was not read: a read of an earlier reload has not returned yet (a file \
             that does not answer, such as a hung network mount)"
        ),
        Blocked::TimedOut(timeout) => format!(
            "reading {what} did not finish within {} ms (`--reload-timeout`)",
            timeout.as_millis()
        ),
        Blocked::Panicked => format!("internal error while reading {what}"),
    }
}

/// How often [`retire`] looks whether the decisions on a replaced policy have finished.
const RETIRE_POLL: Duration = Duration::from_millis(10);

/// How long [`retire`] waits for them: past it, the last of them frees the policy.
const RETIRE_WAIT: Duration = Duration::from_secs(10);

/// Frees a replaced policy (tens of MB of rules, index and entities for a large set) on a
/// thread at the lowest priority, once the decisions that still hold it have finished, so
/// that the free never runs on a thread that answers requests.
fn retire(old: Arc<Policy>) {
    let _spawned = priority::spawn_lowest("rampart-retire", move || {
        let deadline = Instant::now() + RETIRE_WAIT;
        let mut old = old;
        loop {
            match Arc::try_unwrap(old) {
                Ok(policy) => {
                    drop(policy);
                    return;
                }
                Err(held) if Instant::now() < deadline => old = held,
                // Still held: the last holder frees it.
                Err(_) => return,
            }
            std::thread::sleep(RETIRE_POLL);
        }
    });
}

/// One line on standard error per reload (and the errors under it), with the time it took.
fn report(outcome: &ReloadOutcome, trigger: Trigger, took: Duration) {
    let trigger = trigger.label();
    if let Some(error) = &outcome.error {
        eprintln!(
            "rampart serve: reload ({trigger}) failed; still serving bundle={}:\n{error}",
            outcome.revision
        );
    } else {
        eprintln!(
            "rampart serve: reloaded ({trigger}) bundle={} (was {}) in {:.1} ms",
            outcome.revision,
            outcome.previous,
            took.as_secs_f64() * 1000.0
        );
    }
    match &outcome.jwks {
        Some(Err(error)) => {
            eprintln!("rampart serve: reload ({trigger}) failed; the key set was kept: {error}");
        }
        Some(Ok(0)) => eprintln!(
            "rampart serve: reload ({trigger}): the key set has no usable signing key: every \
             bearer token is now rejected"
        ),
        _ => {}
    }
    if let Some(Err(error)) = &outcome.api_keys {
        eprintln!("rampart serve: reload ({trigger}) failed; the API keys were kept: {error}");
    }
}

/// Reloads the policy of `state` in a task of its own, so that a caller that goes away (an
/// HTTP client that disconnects) cannot cut a reload short. `None` when reloads are not
/// configured.
async fn reload_in_task(state: &Arc<State>, trigger: Trigger) -> Option<Arc<ReloadOutcome>> {
    state.reloader()?;
    let shared = Arc::clone(state);
    let task = tokio::spawn(async move {
        match shared.reloader() {
            Some(reloader) => Some(reloader.reload(&shared, trigger).await),
            None => None,
        }
    });
    task.await.ok().flatten()
}

/// `POST /v1/reload`.
pub async fn reload_endpoint(Shared(state): Shared<Arc<State>>) -> Response {
    if state.reloader().is_none() {
        return error_response(StatusCode::NOT_IMPLEMENTED, "reload is not configured");
    }
    match reload_in_task(&state, Trigger::Api).await {
        Some(outcome) => outcome.to_response(),
        None => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while reloading",
        ),
    }
}

/// The shared state of a sidecar with its reload triggers started, when `reload` is given:
/// SIGHUP (listened for before this returns, so a signal sent once the sidecar is ready
/// never kills it) and the file watcher. Must be called inside a tokio runtime; the
/// triggers stop once shutdown has begun.
pub fn start(state: State, reload: Option<&Reload>) -> Result<Arc<State>, ServeError> {
    let Some(reload) = reload else {
        return Ok(Arc::new(state));
    };
    let state = Arc::new(state.with_reloader(Reloader::new(reload)));
    if let Some(source) = &reload.source {
        state
            .metrics
            .bundle
            .update_bundle(|info| info.source = Some(source.clone()));
    }
    for remote in reload.remote.iter().chain(&reload.remote_entities) {
        crate::remote::start(&state, remote);
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = signal(SignalKind::hangup()).map_err(ServeError::Signal)?;
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                if state.is_shutting_down() {
                    break;
                }
                reload_in_task(&state, Trigger::Signal).await;
            }
        });
    }
    if let Some(interval) = reload.watch_interval.filter(|_| !reload.watch.is_empty()) {
        // The files as they are now, before the sidecar is ready: a change made once it is
        // ready must be seen as one.
        let loaded = watch::fingerprint(&reload.watch);
        tokio::spawn(watch::watch_files(
            Arc::clone(&state),
            reload.watch.clone(),
            loaded,
            interval,
            reload.watch_settle,
        ));
    }
    Ok(state)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rampart_engine::bundle::{
        EntityType, RecordType, Schema, ANONYMOUS_TYPE, BUNDLE_FORMAT, BUNDLE_VERSION,
    };
    use rampart_engine::{Bundle, Engine};
    use std::sync::atomic::AtomicUsize;

    /// An empty policy with this revision (also the sidecar server's tests' policy).
    pub(crate) fn policy(revision: &str) -> Policy {
        let bundle = Bundle {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            revision: revision.into(),
            symbols: vec![],
            schema: Schema {
                entity_types: vec![EntityType {
                    name: ANONYMOUS_TYPE.into(),
                    attrs: RecordType::default(),
                    parents: vec![],
                    tags: None,
                }],
                enums: vec![],
                actions: vec![],
                context: RecordType::default(),
            },
            packages: vec![],
            rules: vec![],
            obligations: vec![],
            routes: vec![],
            principals: vec![],
        };
        let engine = Engine::new(bundle).unwrap_or_else(|e| panic!("{e}"));
        let entities = engine.empty_entities();
        Policy { engine, entities }
    }

    /// A sidecar state serving `r0` whose loader counts its calls and answers `answer`.
    fn state_with_loader(
        calls: &Arc<AtomicUsize>,
        answer: fn(usize) -> Result<Policy, String>,
    ) -> Arc<State> {
        let counter = Arc::clone(calls);
        let loader: PolicyLoader = Arc::new(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(Duration::from_millis(100));
            answer(n)
        });
        let reload = Reload::new(loader, Vec::new());
        Arc::new(State::new(policy("r0"), None).with_reloader(Reloader::new(&reload)))
    }

    #[tokio::test]
    async fn triggers_that_arrive_during_a_reload_share_the_next_one() {
        let calls = Arc::new(AtomicUsize::new(0));
        let state = state_with_loader(&calls, |n| Ok(policy(&format!("r{n}"))));
        let Some(reloader) = state.reloader() else {
            panic!("no reloader");
        };
        let outcomes = futures_join(
            (0..8)
                .map(|_| reloader.reload(&state, Trigger::Api))
                .collect(),
        )
        .await;
        // The first trigger runs at once; the seven that queued behind it share one more.
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(outcomes[0].revision, "r1");
        assert!(outcomes[1..]
            .iter()
            .all(|o| o.revision == "r2" && o.succeeded()));
        assert_eq!(state.policy().revision(), "r2");
        assert!(state
            .metrics
            .render("r2")
            .contains("rampart_reloads_total{result=\"success\"} 2"));
    }

    #[tokio::test]
    async fn a_policy_that_fails_to_load_leaves_the_old_one_serving() {
        let calls = Arc::new(AtomicUsize::new(0));
        let state = state_with_loader(&calls, |_| Err("policy.rampart:1:1: error".into()));
        let Some(reloader) = state.reloader() else {
            panic!("no reloader");
        };
        let outcome = reloader.reload(&state, Trigger::Signal).await;
        assert!(!outcome.succeeded());
        assert_eq!(outcome.revision, "r0");
        assert_eq!(outcome.error.as_deref(), Some("policy.rampart:1:1: error"));
        assert_eq!(state.policy().revision(), "r0");
        let metrics = state.metrics.render("r0");
        assert!(metrics.contains("rampart_reloads_total{result=\"failure\"} 1"));
        assert!(metrics.contains("rampart_reloads_total{result=\"success\"} 0"));
    }

    #[tokio::test]
    async fn a_loader_that_never_returns_fails_the_reload_and_holds_one_thread() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        let counter = Arc::clone(&calls);
        // The first call blocks like a read of a file that never answers.
        let loader: PolicyLoader = Arc::new(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                let _ = wait.lock().map(|w| w.recv());
            }
            Ok(policy(&format!("r{n}")))
        });
        let reload = Reload {
            timeout: Duration::from_millis(200),
            ..Reload::new(loader, Vec::new())
        };
        let state = Arc::new(State::new(policy("r0"), None).with_reloader(Reloader::new(&reload)));
        let Some(reloader) = state.reloader() else {
            panic!("no reloader");
        };
        let outcome = reloader.reload(&state, Trigger::Api).await;
        assert_eq!(
            outcome.error.as_deref(),
            Some("reading the policy did not finish within 200 ms (`--reload-timeout`)")
        );
        assert!(!outcome.internal);
        assert_eq!(state.policy().revision(), "r0");

        // While it is stuck, no second read starts.
        let outcome = reloader.reload(&state, Trigger::Signal).await;
        assert!(
            outcome
                .error
                .as_deref()
                .is_some_and(|e| e.contains("has not returned yet")),
            "{outcome:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Once it returns (its late policy is dropped), reloads work again.
        let _ = release.send(());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while reloader.running.load(Ordering::SeqCst) > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the loader never finished"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let outcome = reloader.reload(&state, Trigger::Api).await;
        assert!(outcome.succeeded(), "{outcome:?}");
        assert_eq!(state.policy().revision(), "r2");
        assert!(state
            .metrics
            .render("r2")
            .contains("rampart_reloads_total{result=\"failure\"} 2"));
    }

    /// Polls the futures together on this task, in order (no extra dependency).
    async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
        let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
                if output.is_none() {
                    match future.as_mut().poll(cx) {
                        std::task::Poll::Ready(value) => *output = Some(value),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        outputs.into_iter().flatten().collect()
    }
}

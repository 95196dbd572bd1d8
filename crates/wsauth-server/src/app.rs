//! Building and running the application: `Application::build` binds the
//! listener (port 0 works) so tests start the real server.

use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wsauth::accept::AddressLimiter;
use wsauth::channels::{Authorizers, Channels, RolesOf, Rules};
use wsauth::cluster::AttemptLimiter;
use wsauth::{RevocationStore, SharedClock, SystemClock, TokenAuthority};

use crate::cluster::{Cluster, RedisPeers};
use crate::config::{Config, ConfigError, Overrides};
use crate::health::Backends;
use crate::proxy::OwnPaths;
use crate::serve::{self, ConnectionPolicy};
use crate::sockets::ChannelSetup;
use crate::state::{AppState, Services};
use crate::token_roles::TokenRoles;
use crate::{keyfile, routes};
use wsauth_domain::accounts::{Accounts, HashingLimits};
use wsauth_domain::families::Families;
use wsauth_domain::inbound::Inbound;
use wsauth_domain::mirror::StoredRevocations;
use wsauth_domain::profiles::StoredProfiles;
use wsauth_domain::propagate::{NoPeers, Peers, Propagation};
use wsauth_domain::store::{AdminLog, Stores};
use wsauth_domain::watch::Follower;

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    internal: Option<TcpListener>,
    addr: SocketAddr,
    state: AppState,
    revocations: Arc<StoredRevocations>,
    /// Where revocations made elsewhere arrive.
    inbound: Inbound,
    /// The event log's latest entry when the mirror was loaded.
    log_position: i64,
}

impl Application {
    /// Builds the server with the system clock.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds the server with an injected clock (tests decide expiry with it).
    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        refuse_own_paths(&config)?;
        wsauth_domain::files::private_dir(&config.data_dir).context("data_dir")?;
        let stores = open_stores(&config).await?;
        let cluster = Cluster::open(&config).await?;
        let keys = keyfile::load_keys(&config)?;
        keyfile::warn_about_retired(&keys, clock.now());
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let internal = match config.metrics_listen {
            Some(at) => Some(
                TcpListener::bind(at).await.with_context(|| format!("cannot listen on {at}"))?,
            ),
            None => None,
        };
        let metrics = if config.metrics { crate::metrics::install() } else { None };
        if metrics.is_some() {
            let routes = config.proxy.iter().map(|route| route.path.as_str());
            crate::metrics::start_at_zero(routes, &crate::proxy::upstream_error_codes());
        }
        let internal_addr = internal.as_ref().and_then(|l| l.local_addr().ok());
        let bound = crate::summary::Bound { listen: addr, internal: internal_addr };
        crate::summary::log(&config, bound, &keys, metrics.is_some());
        let tokens =
            TokenAuthority::with_settings(keys, config.token_settings()).with_clock(clock.clone());
        // Entries of the event log after this one are applied on top of the
        // snapshot the mirror loads next (`watch.rs`).
        let log_position =
            stores.admin.latest_event().await.context("cannot read the revocation log")?;
        let revocations = Arc::new(
            StoredRevocations::load(stores.revocations.clone(), clock.clone())
                .await
                .context("cannot load revocations")?,
        );
        // In a cluster a check also asks Redis what the other nodes revoked.
        let shared = cluster.as_ref().map(|cluster| cluster.revocations(clock.clone()));
        let revocation_check: Arc<dyn RevocationStore> = match (&cluster, &shared) {
            (Some(cluster), Some(shared)) => {
                Arc::new(cluster.revocation_check(revocations.clone(), shared.clone()))
            }
            _ => revocations.clone(),
        };
        let limits = &config.limits;
        let mut builder = config.auth_builder(tokens.clone(), addr.port())?;
        let observer: Arc<dyn wsauth::observe::Observer> = match metrics {
            Some(_) => Arc::new(crate::metrics::Recorder::new()),
            None => Arc::new(wsauth::observe::NoObserver),
        };
        builder = builder.observer(observer.clone());
        if let Some(cluster) = &cluster {
            builder = builder.tickets(cluster.tickets(clock.clone()));
        }
        let auth = builder.revocation(revocation_check).build();
        tracing::info!(origins = ?config.allowed_origins_on(addr.port()), "allowed WebSocket origins");
        let (rate, burst) = (limits.password_rate, limits.password_burst);
        let password_attempts: Arc<dyn AttemptLimiter> = match &cluster {
            Some(cluster) => cluster.password_attempts(rate, burst),
            None => Arc::new(AddressLimiter::new(rate, burst)),
        };
        let admin = wsauth_domain::admin::Admin::new(stores.accounts.clone(), stores.admin.clone());
        let mut backends = vec![stores.backend.clone()];
        backends.extend(cluster.as_ref().map(Cluster::backend));
        let backends = Backends::new(backends);
        let accounts =
            Accounts::new(stores.accounts.clone(), HashingLimits::server(limits.password_queue));
        warn_about_case_duplicates(&accounts).await?;
        let proxies = crate::proxy::Proxies::build(&config.proxy, auth.socket_limits())
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        let shutdown = CancellationToken::new();
        // Rights come from the configured rules, each local account's stored
        // roles and grants, and the application's backend if configured; a
        // change to the stored ones, logged by any process, re-checks the
        // subject's subscriptions here (`Inbound`).
        let mut authorizers = Authorizers::new(Rules(config.channels.rules.clone()));
        if let Some(app) =
            crate::channel_authorizer::HttpAuthorizer::from_settings(&config.channels)?
        {
            authorizers = authorizers.then(Arc::new(app));
        }
        let profiles = Arc::new(StoredProfiles::new(stores.rights.clone()));
        let channels = Channels::new(authorizers, profiles, config.channels.limits(), observer);
        channels.attach_freshness(revocations.clone());
        let inbound =
            Inbound::new(revocations.clone(), auth.live().clone()).with_channels(channels.clone());
        let peers: Arc<dyn Peers> = match (&cluster, shared) {
            (Some(cluster), Some(shared)) => {
                let bus = cluster.start_bus(inbound.clone(), shutdown.clone()).await?;
                Arc::new(RedisPeers::new(shared, bus))
            }
            _ => Arc::new(NoPeers),
        };
        let propagation = Propagation::new(inbound.clone(), peers);
        let roles = TokenRoles::new(&config.trusted_issuers);
        let roles_of: RolesOf = Arc::new(move |claims| roles.of(claims));
        if let Some(cluster) = &cluster {
            cluster.start_channel_bus(&channels, shutdown.clone()).await?;
        }
        let state = AppState::new(Services {
            auth: auth.clone(),
            accounts,
            families: Families::new(
                stores.families,
                tokens,
                revocations.clone(),
                propagation.clone(),
                config.rotation_rules(),
            ),
            config: Arc::new(config),
            shutdown,
            propagation,
            sockets: TaskTracker::new(),
            password_attempts,
            backends,
            rights: wsauth_domain::rights::Rights::new(admin.clone(), stores.rights.clone()),
            admin,
            metrics,
            proxies,
            channels: ChannelSetup { channels, roles_of },
        });
        Ok(Self { listener, internal, addr, state, revocations, inbound, log_position })
    }

    /// The authentication state (tokens, revocation, live sockets).
    pub fn auth(&self) -> wsauth::WsAuth {
        self.state.auth.clone()
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The internal address (`metrics_listen`), when one is configured.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.internal.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Cancelling this token shuts the server down: live sockets close with
    /// 1001, then the process may exit.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then closes every live
    /// socket with 1001 and returns within `shutdown_timeout`.
    pub async fn run(self) -> anyhow::Result<()> {
        let Self { listener, internal, state, revocations, inbound, log_position, .. } = self;
        let shutdown = state.shutdown.clone();
        let sockets = state.sockets.clone();
        let log = state.admin.log().clone();
        tokio::spawn(purge_loop(
            state.families.clone(),
            revocations,
            log.clone(),
            shutdown.clone(),
        ));
        // Caught up before serving: the mirror is current from the first request.
        let mut follower = Follower::new(log, log_position, inbound);
        follower.step().await;
        tokio::spawn(follower.run(shutdown.clone()));
        if let Some(handle) = state.metrics.clone() {
            tokio::spawn(crate::metrics::upkeep(handle, shutdown.clone()));
        }
        let limit = Duration::from_secs(state.config.shutdown_timeout);
        let policy = || {
            let proxies = state.auth.trusted_proxies().clone();
            ConnectionPolicy::new(&state.config.limits, proxies, limit)
        };
        if let Some(internal) = internal {
            let router = routes::internal_router(state.clone());
            tokio::spawn(serve::serve(internal, router, policy(), shutdown.clone()));
        }
        let policy = policy();
        state.proxies.count_upstreams_in(policy.slots().clone());
        // Live sockets see the same cancellation and send their 1001 while
        // the HTTP connections drain; both are held to one deadline.
        let began = serve::serve(listener, routes::router(state), policy, shutdown).await;
        sockets.close();
        if tokio::time::timeout_at(began + limit, sockets.wait()).await.is_err() {
            tracing::warn!(
                left = sockets.len(),
                shutdown_timeout = limit.as_secs(),
                "some sockets did not close within shutdown_timeout; dropping them"
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Loads the configuration ([`Config::load`]) and checks what only the
/// assembled application knows: that no proxy route takes a path the
/// server serves itself.
pub fn load_config(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
    let config = Config::load(file, overrides)?;
    refuse_own_paths(&config)?;
    Ok(config)
}

/// Refuses a proxy route on one of the route table's paths.
fn refuse_own_paths(config: &Config) -> Result<(), ConfigError> {
    let own = OwnPaths::new(routes::own_paths());
    own.refuse_taken(&config.proxy).map_err(ConfigError::Invalid)
}

async fn purge_loop(
    families: Families,
    revocations: Arc<StoredRevocations>,
    log: Arc<dyn AdminLog>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        if let Err(e) = revocations.purge_expired().await {
            tracing::warn!(error = %e, "purging revocations failed");
        }
        if let Err(e) = families.purge_expired().await {
            tracing::warn!(error = %e, "purging issued tokens failed");
        }
        if let Err(e) = log.purge_events(wsauth_domain::watch::RETENTION).await {
            tracing::warn!(error = %e, "purging the revocation log failed");
        }
    }
}

/// The configured database (`database_url`), opened and migrated. The
/// default one, in the data directory, creates that directory (0700).
pub async fn open_stores(config: &Config) -> anyhow::Result<Stores> {
    let database = config.database()?;
    if config.database_url.is_none() {
        wsauth_domain::files::private_dir(&config.data_dir).context("data_dir")?;
    }
    Stores::open(&database).await
}

/// Accounts from before usernames were unique without regard to case keep
/// working by exact spelling; the operator should know they exist.
async fn warn_about_case_duplicates(accounts: &Accounts) -> anyhow::Result<()> {
    let names = accounts.case_duplicates().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if !names.is_empty() {
        tracing::warn!(
            accounts = ?names,
            "these usernames differ only by letter case: each logs in by its exact spelling only"
        );
    }
    Ok(())
}

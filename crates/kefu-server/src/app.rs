//! The running kefu: the world, its writer, the rule book, and the two ways to touch them —
//! [`App::mutate`] for a decision that changes state, [`App::read`] for one that only looks.
//! Both answer only once the state they saw is durable.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use kefu_policy::{Channel, Defaults, Platform, Rollout, RuleBook, RuleSetId};
use kefu_store::{
    AccountRecord, ClockMode, ClockRecord, Key, Record, Store, StoreError, Versioned,
};

use crate::clock::WallClock;
use crate::error::Unavailable;
use crate::ids;
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::push::{Hub, PushConfig};
use crate::rollout_file::RolloutFile;
use crate::snapshot;
use crate::world::{Entry, Tx, World};
use crate::writer::{Waiter, Writer};

/// How kefu starts: what the binary (or a test) decided from flags and the data directory.
pub struct Config {
    pub store: Arc<dyn Store>,
    pub clock_mode: ClockMode,
    /// `--clock-start`: where a new virtual clock starts (and where `reset` sends it back).
    pub clock_start: Option<i64>,
    /// `--clock-reset`: start over the stored clock, in `clock_mode`.
    pub clock_reset: bool,
    /// `--admin-token`; `None` keeps the stored one or makes one.
    pub admin_token: Option<String>,
    /// `--default-ruleset PLATFORM=NAME`, applied over the shipped defaults.
    pub default_rulesets: Vec<(Platform, String)>,
    /// `--rollout ID|FILE`: rollouts to create at start-up unless they exist already.
    pub rollouts: Vec<RolloutFile>,
    pub wall: Arc<dyn WallClock>,
    /// Webhook deliveries: timeout, pool and outbox sizes.
    pub push: PushConfig,
    /// Where a graceful stop writes the snapshot of the world's per-user tables and the next
    /// start looks for it (`snapshot.rs`): the data directory. `None`: no snapshot, every
    /// start reads the whole store.
    pub snapshot: Option<PathBuf>,
}

/// What start-up has to tell the operator.
#[derive(Debug, Default)]
pub struct Started {
    /// A newly made admin token: the binary writes it once to stdout, never to the log.
    pub new_admin_token: Option<String>,
    pub warnings: Vec<String>,
    /// Records read back from the store into the world.
    pub records: u64,
    /// Whether users, conversations and follows came from a snapshot rather than the store.
    pub from_snapshot: bool,
    /// How many of those the store had written since the snapshot (after a crash), loaded
    /// again from the store.
    pub snapshot_caught_up: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] kefu_store::StoreError),
    #[error(
        "the data directory holds a {stored} clock but kefu was started with --clock {wanted}; \
         pass --clock-reset to start the clock over in {wanted} mode"
    )]
    ClockMode {
        stored: &'static str,
        wanted: &'static str,
    },
    #[error("unknown rule set {name:?} for --default-ruleset {platform}")]
    UnknownRuleSet { platform: String, name: String },
    #[error("rule set {name:?} is for platform {actual}, not {platform}")]
    WrongPlatform {
        platform: String,
        name: String,
        actual: String,
    },
    #[error("rollout {id}: {message}")]
    Rollout { id: String, message: String },
    #[error("the first commit failed: {0}")]
    Unavailable(#[from] Unavailable),
}

pub fn mode_name(mode: ClockMode) -> &'static str {
    match mode {
        ClockMode::System => "system",
        ClockMode::Virtual => "virtual",
    }
}

struct Locked {
    world: World,
    writer: Writer,
}

struct Inner {
    locked: Mutex<Locked>,
    store: Arc<dyn Store>,
    /// Where a graceful stop writes the world's snapshot (`Config::snapshot`).
    snapshot: Option<PathBuf>,
    waiter: Waiter,
    admin_token: String,
    wall: Arc<dyn WallClock>,
    clock_start: Option<i64>,
    pushes: Hub,
    metrics: Metrics,
}

/// Cheap to clone: every handler holds one.
#[derive(Clone)]
pub struct App(Arc<Inner>);

/// What a decision sees besides the world.
pub struct Ctx<'a> {
    /// The rule clock's now.
    pub now: i64,
    /// The wall clock's now.
    pub wall_now: i64,
    pub rules: &'a RuleBook,
    pub defaults: &'a Defaults,
    /// In creation order.
    pub rollouts: &'a [Rollout],
    pub policy: &'a Policy,
    /// Where decisions hand their pushes over.
    pub pushes: &'a Hub,
}

impl Ctx<'_> {
    /// The rule set in force for `account` on `channel` now.
    pub fn ruleset_for(&self, account: &AccountRecord, channel: Channel) -> RuleSetId {
        self.policy.ruleset_for(account, channel, self.now)
    }
}

/// Records a start-up hands from the store's scan to the world at a time.
const RESTORE_BATCH: usize = 4096;

/// Bytes of the store's history a start reads to catch a snapshot up, however small the
/// snapshot.
const CATCH_UP_AT_LEAST: u64 = 64 << 20;

/// How a start put the stored records into the world.
struct Restored {
    /// Records read from the store.
    records: u64,
    /// Whether users, conversations and follows came from a snapshot.
    from_snapshot: bool,
    /// How many of those the store had changed since the snapshot (loaded again).
    caught_up: usize,
}

/// Puts every stored record into `world`. The per-user ones come from a snapshot under
/// `snapshot` if there is a usable one, caught up with what the store wrote since (after a
/// crash, the snapshot of the last graceful stop); any other is set aside with a warning and the
/// store read instead.
fn restore(
    store: &Arc<dyn Store>,
    world: &mut World,
    snapshot: Option<&Path>,
) -> Result<Restored, StoreError> {
    let taken = snapshot.and_then(|dir| {
        let taken = match snapshot::take(dir, store.position()) {
            Ok(taken) => taken?,
            Err(error) => {
                tracing::warn!(%error, "not starting from the snapshot; reading the store instead");
                return None;
            }
        };
        // Catching up is worth it while the store has no more to read than the snapshot holds
        // (or than a fraction of a second's reading, for a small one).
        let budget = taken.bytes.max(CATCH_UP_AT_LEAST);
        match store.per_user_written_since(taken.position, budget) {
            Ok(Some(changed)) => Some((taken.tables, changed)),
            Ok(None) => {
                tracing::warn!(
                    written_at = taken.position,
                    now = store.position(),
                    "not starting from the snapshot: the store cannot say what changed since \
                     (a wipe, or more to read than the snapshot holds); reading the store instead"
                );
                snapshot::discard(dir);
                None
            }
            Err(error) => {
                tracing::warn!(%error, "not starting from the snapshot; reading the store instead");
                snapshot::discard(dir);
                None
            }
        }
    });
    let Some((tables, changed)) = taken else {
        let records = scan(store, world)?;
        return Ok(Restored {
            records,
            from_snapshot: false,
            caught_up: 0,
        });
    };
    world.users = tables.users;
    world.conversations = tables.conversations;
    let caught_up = changed.len();
    world.catch_up(changed);
    let mut records = caught_up as u64;
    store.scan_without_users(&mut |key, record| {
        records += 1;
        world.restore(key, record);
    })?;
    world.finish_restore(false);
    Ok(Restored {
        records,
        from_snapshot: true,
        caught_up,
    })
}

/// Puts every stored record into `world`, returning how many. The store reads and decodes on a
/// thread of its own while this one puts records in place: on two cores a start with millions
/// of records takes the longer of the two rather than their sum.
fn scan(store: &Arc<dyn Store>, world: &mut World) -> Result<u64, StoreError> {
    world.reserve_followers(store.record_count()? / 3);
    let (batches, received) = std::sync::mpsc::sync_channel::<Vec<(Key, Versioned<Record>)>>(4);
    let mut records = 0;
    std::thread::scope(|scope| {
        let scan = std::thread::Builder::new()
            .name("kefu-restore".into())
            .spawn_scoped(scope, move || {
                let mut batch = Vec::with_capacity(RESTORE_BATCH);
                store.scan(&mut |key, record| {
                    batch.push((key, record));
                    if batch.len() == RESTORE_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(RESTORE_BATCH));
                        // The receiver only stops early if this thread's own result is moot.
                        let _ = batches.send(full);
                    }
                })?;
                let _ = batches.send(batch);
                Ok::<(), StoreError>(())
            })
            .map_err(|e| StoreError::Engine(format!("starting the restore thread: {e}")))?;
        for batch in received {
            for (key, record) in batch {
                records += 1;
                world.restore(key, record);
            }
        }
        scan.join()
            .unwrap_or_else(|_| Err(StoreError::Engine("the restore thread panicked".into())))
    })?;
    world.finish_restore(true);
    Ok(records)
}

impl App {
    pub async fn open(config: Config) -> Result<(App, Started), StartError> {
        let rules = RuleBook::shipped();
        let mut defaults = Defaults::shipped();
        for (platform, name) in &config.default_rulesets {
            let Some(id) = rules.id(name) else {
                return Err(StartError::UnknownRuleSet {
                    platform: platform.as_str().into(),
                    name: name.clone(),
                });
            };
            let actual = rules.get(id).platform;
            if actual != *platform {
                return Err(StartError::WrongPlatform {
                    platform: platform.as_str().into(),
                    name: name.clone(),
                    actual: actual.as_str().into(),
                });
            }
            defaults.set(*platform, name.clone());
        }
        for platform in Platform::ALL {
            defaults_id(&rules, &defaults, platform)?;
        }

        let wall_now = config.wall.now();
        let placeholder_clock = ClockRecord {
            mode: config.clock_mode,
            now: config.clock_start.unwrap_or(wall_now),
            start: config.clock_start,
        };
        let mut world = World::new(
            Entry::new(String::new()),
            Entry::new(placeholder_clock),
            Policy::new(rules, defaults),
        );
        let restored = restore(&config.store, &mut world, config.snapshot.as_deref())?;

        let mut started = Started {
            records: restored.records,
            from_snapshot: restored.from_snapshot,
            snapshot_caught_up: restored.caught_up,
            ..Started::default()
        };
        let mut tx = Tx::new(&world.counters.value);

        // The clock: a new store starts it; an existing one keeps it unless told to reset.
        let fresh_clock = world.clock.version == 0;
        if fresh_clock || config.clock_reset {
            world.clock.value = ClockRecord {
                mode: config.clock_mode,
                now: config.clock_start.unwrap_or(wall_now),
                start: config.clock_start,
            };
            tx.save(Key::Clock, &mut world.clock);
        } else {
            if world.clock.value.mode != config.clock_mode {
                return Err(StartError::ClockMode {
                    stored: mode_name(world.clock.value.mode),
                    wanted: mode_name(config.clock_mode),
                });
            }
            if config.clock_start.is_some() {
                started.warnings.push(
                    "--clock-start is ignored: the data directory already has a clock \
                     (pass --clock-reset to start it over)"
                        .into(),
                );
            }
        }

        // The admin token: the flag wins, else the stored one, else a new one shown once.
        match &config.admin_token {
            Some(token) if *token != world.admin_token.value || world.admin_token.version == 0 => {
                world.admin_token.value = token.clone();
                tx.save(Key::AdminToken, &mut world.admin_token);
            }
            Some(_) => {}
            None if world.admin_token.version == 0 => {
                let token = ids::admin_token();
                world.admin_token.value = token.clone();
                tx.save(Key::AdminToken, &mut world.admin_token);
                started.new_admin_token = Some(token);
            }
            None => {}
        }

        let pushes = Hub::new(config.push);
        // Rollouts named on the command line: created once, kept as they are afterwards.
        let now = match world.clock.value.mode {
            ClockMode::System => world.clock.value.now.max(wall_now),
            ClockMode::Virtual => world.clock.value.now,
        };
        for file in config.rollouts {
            if world.policy.rollout(&file.spec.id).is_some() {
                continue;
            }
            let id = file.spec.id.clone();
            let policy = world.policy.clone();
            let ctx = ctx(&policy, &pushes, now, wall_now);
            crate::api::rollouts::create_in(&mut world, &mut tx, &ctx, file).map_err(|e| {
                StartError::Rollout {
                    id,
                    message: e.message,
                }
            })?;
        }

        let store = config.store.clone();
        let mut writer = Writer::start(config.store.clone());
        let waiter = writer.waiter();
        let commit = tx.finish(&mut world.counters);
        let first = if commit.is_empty() {
            None
        } else {
            Some(writer.submit(commit)?)
        };
        let admin_token = world.admin_token.value.clone();
        let app = App(Arc::new(Inner {
            locked: Mutex::new(Locked { world, writer }),
            store,
            snapshot: config.snapshot,
            waiter,
            admin_token,
            wall: config.wall,
            clock_start: config.clock_start,
            pushes,
            metrics: Metrics::default(),
        }));
        if let Some(ticket) = first {
            app.0.waiter.clone().durable(ticket).await?;
        }
        crate::push::start(&app).await?;
        Ok((app, started))
    }

    fn lock(&self) -> MutexGuard<'_, Locked> {
        // Decisions validate before they change anything, so a panic inside one leaves the
        // world consistent; keep serving.
        self.0.locked.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn wall_now(&self) -> i64 {
        self.0.wall.now()
    }

    /// The store, for reads that bypass the world (inbox, traffic); call [`App::read`] first so
    /// that what it returns is durable.
    pub fn store(&self) -> Arc<dyn Store> {
        self.0.store.clone()
    }

    /// Webhook deliveries: the shared client, the dispatcher's queue, the configuration.
    pub fn pushes(&self) -> &Hub {
        &self.0.pushes
    }

    /// What `/metrics` reports.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Where `reset` sends a virtual clock.
    pub fn clock_start(&self) -> Option<i64> {
        self.0.clock_start
    }

    /// Runs a decision that may change the world, and answers once its changes are durable.
    /// `decide` must check everything before it changes anything: an `Err` leaves the world as
    /// it was and commits nothing.
    pub async fn mutate<T, E>(
        &self,
        decide: impl FnOnce(&mut World, &mut Tx, &Ctx<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Unavailable>,
    {
        let (out, ticket) = {
            let mut locked = self.lock();
            let (policy, now, wall_now) = self.begin(&mut locked)?;
            let ctx = ctx(&policy, &self.0.pushes, now, wall_now);
            let mut tx = Tx::new(&locked.world.counters.value);
            let out = decide(&mut locked.world, &mut tx, &ctx)?;
            let commit = tx.finish(&mut locked.world.counters);
            let ticket = if commit.is_empty() {
                locked.writer.latest()
            } else {
                locked.writer.submit(commit)?
            };
            (out, ticket)
        };
        self.0.waiter.clone().durable(ticket).await?;
        Ok(out)
    }

    /// Wipes everything but the admin token and the sequence counter (the test-suite reset),
    /// then lets `rebuild` set the world up again; answers once durable.
    pub async fn wipe<T>(
        &self,
        rebuild: impl FnOnce(&mut World, &mut Tx, &Ctx<'_>) -> T,
    ) -> Result<T, Unavailable> {
        let (out, ticket) = {
            let mut locked = self.lock();
            locked.writer.check()?;
            locked.writer.wipe(vec![Key::AdminToken, Key::Counters])?;
            // Deliveries already handed to the dispatcher go nowhere after a reset.
            self.0.pushes.forget_all();
            let world = &mut locked.world;
            let admin = world.admin_token.clone();
            let counters = world.counters.clone();
            let clock = world.clock.clone();
            // Rule sets and rollouts go too; the shipped book and the defaults stay.
            let policy = Policy::new(RuleBook::shipped(), world.policy.defaults.clone());
            *world = World::new(admin, Entry::new(clock.value), policy);
            world.counters = counters;
            let (now, wall_now) = self.now(world);
            let policy = world.policy.clone();
            let ctx = ctx(&policy, &self.0.pushes, now, wall_now);
            let mut tx = Tx::new(&world.counters.value);
            let out = rebuild(world, &mut tx, &ctx);
            let commit = tx.finish(&mut world.counters);
            let ticket = locked.writer.submit(commit)?;
            (out, ticket)
        };
        self.0.waiter.clone().durable(ticket).await?;
        Ok(out)
    }

    /// Runs a read, and answers once every decision it may have seen is durable.
    pub async fn read<T, E>(
        &self,
        look: impl FnOnce(&World, &Ctx<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Unavailable>,
    {
        let (out, ticket) = {
            let mut locked = self.lock();
            let (policy, now, wall_now) = self.begin(&mut locked)?;
            let ctx = ctx(&policy, &self.0.pushes, now, wall_now);
            (look(&locked.world, &ctx)?, locked.writer.latest())
        };
        self.0.waiter.clone().durable(ticket).await?;
        Ok(out)
    }

    /// A store read that bypasses the world (inbox, traffic), after the state it may reflect is
    /// durable.
    pub async fn after_durable(&self) -> Result<(), Unavailable> {
        let ticket = self.lock().writer.latest();
        self.0.waiter.clone().durable(ticket).await
    }

    /// What every decision starts from, under the lock: the writer still healthy, the rules in
    /// force, the rule clock's now and the wall clock's.
    fn begin(&self, locked: &mut Locked) -> Result<(Arc<Policy>, i64, i64), Unavailable> {
        locked.writer.check()?;
        let (now, wall_now) = self.now(&mut locked.world);
        Ok((locked.world.policy.clone(), now, wall_now))
    }

    /// The rule clock's now and the wall clock's. A system rule clock never goes backwards
    /// within a run, even if the machine's clock does.
    fn now(&self, world: &mut World) -> (i64, i64) {
        let wall_now = self.0.wall.now();
        let clock = &mut world.clock.value;
        if clock.mode == ClockMode::System {
            clock.now = clock.now.max(wall_now);
        }
        (clock.now, wall_now)
    }

    /// Stops the writer after everything queued is durable, then closes the store (graceful
    /// shutdown: the next start has no log to replay), and writes the snapshot of the world's
    /// per-user tables for the next start when the world and the store agree: every commit
    /// made it and the store closed cleanly.
    pub fn close(&self) {
        let mut locked = self.lock();
        let drained = locked.writer.close();
        let closed = self.0.store.close();
        if let Err(error) = &closed {
            tracing::error!(%error, "closing the store failed; the next start recovers from its log");
        }
        let (Some(dir), Some(position), Ok(()), Ok(())) =
            (&self.0.snapshot, self.0.store.position(), drained, closed)
        else {
            return;
        };
        let writing = std::time::Instant::now();
        let world = &locked.world;
        match snapshot::write(dir, position, &world.users, &world.conversations) {
            Ok(written) => tracing::info!(
                users = written.users,
                rows = written.rows,
                bytes = written.bytes,
                ms = writing.elapsed().as_millis() as u64,
                "snapshot written for the next start"
            ),
            Err(error) => {
                tracing::warn!(%error, "no snapshot written; the next start reads the whole store")
            }
        }
    }

    /// Lets go of the world's users and conversations without freeing them, for a process that
    /// is about to exit: freeing a million conversations one allocation at a time was nearly all
    /// of a graceful stop (0.8–1.4 s; 0.02 s without it), and the operating system takes the
    /// memory back at once. Everything they hold is on disk once [`App::close`] has returned;
    /// the App answers as if empty after this.
    pub fn forget_world(&self) {
        let world = &mut self.lock().world;
        std::mem::forget(std::mem::take(&mut world.conversations));
        std::mem::forget(std::mem::take(&mut world.users));
    }
}

fn defaults_id(
    rules: &RuleBook,
    defaults: &Defaults,
    platform: Platform,
) -> Result<RuleSetId, StartError> {
    let name = defaults.get(platform);
    rules.id(name).ok_or_else(|| StartError::UnknownRuleSet {
        platform: platform.as_str().into(),
        name: name.to_owned(),
    })
}

impl App {
    /// Whether `token` is the admin token, compared in constant time.
    pub fn admin_token_is(&self, token: &str) -> bool {
        let expected = self.0.admin_token.as_bytes();
        bool::from(subtle::ConstantTimeEq::ct_eq(expected, token.as_bytes()))
    }
}

fn ctx<'a>(policy: &'a Policy, pushes: &'a Hub, now: i64, wall_now: i64) -> Ctx<'a> {
    Ctx {
        now,
        wall_now,
        rules: &policy.book,
        defaults: &policy.defaults,
        rollouts: &policy.rollouts,
        policy,
        pushes,
    }
}

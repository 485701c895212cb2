//! The work of a flow that exactly one process does at a time: heartbeats, topic config and
//! ACL sync, checkpoints and group offset sync. A process alone always does it; in a group, the
//! leader does, and stops when it loses the lead.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::shutdown::Shutdown;

/// Spawns the singleton tasks, each ending when the given stop signal fires.
pub(crate) type SpawnSingletons = Box<dyn Fn(&mut JoinSet<()>, Shutdown) + Send + Sync>;

/// The singleton tasks of one flow, on or off.
pub(crate) struct Singletons {
    spawn: SpawnSingletons,
    running: Option<(watch::Sender<bool>, JoinSet<()>)>,
}

impl Singletons {
    /// Off until [`Singletons::set`] turns them on.
    pub(crate) fn new(spawn: SpawnSingletons) -> Singletons {
        Singletons {
            spawn,
            running: None,
        }
    }

    /// Whether they run.
    pub(crate) fn is_on(&self) -> bool {
        self.running.is_some()
    }

    /// Turns them on or off; turning off signals the tasks and lets them finish on their own.
    pub(crate) fn set(&mut self, on: bool) {
        match (on, self.running.is_some()) {
            (true, false) => {
                let (stop, stopped) = watch::channel(false);
                let mut tasks = JoinSet::new();
                (self.spawn)(&mut tasks, stopped);
                self.running = Some((stop, tasks));
            }
            (false, true) => {
                let (stop, tasks) = self.running.take().expect("running");
                let _ = stop.send(true);
                tokio::spawn(drain(tasks));
            }
            _ => {}
        }
    }

    /// Turns them off and waits until every task has ended.
    pub(crate) fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        match self.running.take() {
            Some((stop, tasks)) => {
                let _ = stop.send(true);
                Box::pin(drain(tasks))
            }
            None => Box::pin(async {}),
        }
    }
}

async fn drain(mut tasks: JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}

//! The network side: the listener, connection lifecycle, the expirer task and shutdown. `Server` is what
//! they share: the apply path's `State` behind an `Arc`, which it derefs to, so a connection hands
//! `&State` to dispatch and nothing below dispatch sees the server.

pub mod connection;
pub mod expirer;
pub mod listener;

use std::ops::Deref;
use std::sync::Arc;

use crate::clock::ServerClock;
use crate::commands::table::SPEC_COUNT;
use crate::config::Config;
use crate::state::State;

/// What the listener, every connection task and the expirer task share.
pub struct Server {
    state: Arc<State>,
}

impl Server {
    pub fn new(config: Config, clock: Arc<ServerClock>) -> Arc<Server> {
        Arc::new(Server {
            state: Arc::new(State::new(config, clock, SPEC_COUNT)),
        })
    }

    /// The shared state, for work that outlives a borrow of the server.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }
}

impl Deref for Server {
    type Target = State;

    #[inline]
    fn deref(&self) -> &State {
        &self.state
    }
}

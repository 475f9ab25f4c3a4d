//! Concord: a Redis-protocol server for distributed coordination.
//!
//! Layers, outside in; each module imports only modules below it:
//! - `server`: the listener, connections, the expirer task, shutdown.
//! - `commands`: the generated table, dispatch and the handler families (the apply path).
//! - `state`: what the apply path reads and writes (`State`), shared by every connection.
//! - the registries and engines `State` holds: `scripting` (Lua), `notify` (keyspace events, client
//!   tracking), `pubsub`, `watches` (KV.WATCH, a reader of the committed stream), `clients` (the
//!   client registry).
//! - the leaves: `keyspace` (sharded tables, expiry wheels, the global revision), `commit` (the
//!   committed stream), `config`, `protocol` (RESP framing and replies), `util`, `clock` (the only reader
//!   of system time).

pub mod clients;
pub mod clock;
pub mod commands;
pub mod commit;
pub mod config;
pub mod keyspace;
pub mod notify;
pub mod protocol;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod state;
pub mod util;
pub mod watches;

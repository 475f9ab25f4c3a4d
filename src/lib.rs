//! Concord: a Redis-protocol server for distributed coordination.
//!
//! Layers, outside in: `server` (sockets, connections, clients), `protocol` (RESP framing and replies),
//! `commands` (the generated table, dispatch and the handler families: the apply path), `keyspace`
//! (sharded tables, expiry wheels, the global revision), `clock` (the only reader of system time).

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
pub mod util;

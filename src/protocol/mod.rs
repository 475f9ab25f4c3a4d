//! The wire protocol: request framing with Redis's limits (`request`) and reply encoding (`reply`).

pub mod reply;
pub mod request;

pub use reply::{ReplyBuf, Resp};

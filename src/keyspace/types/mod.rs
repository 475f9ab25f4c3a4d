//! The collection values a key can hold besides strings. Each type lives in its own module with the
//! data structure and the encoding name Redis would report for it (`OBJECT ENCODING`), so the command
//! families stay free of representation details.

pub mod hash;
pub mod list;
pub mod set;
pub mod stream;
pub mod zset;

pub use hash::HashValue;
pub use list::ListValue;
pub use set::SetValue;
pub use stream::StreamValue;
pub use zset::ZSetValue;

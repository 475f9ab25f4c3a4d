//! Typed keyspace accessors shared by the collection families whose lookups have one shape (hashes,
//! sets): read a live value of one type with Redis's hit/miss accounting, or write one with the
//! revision stamped on a real change and an emptied value deleted.

use super::{CommandError, Ctx, Ttl};
use crate::keyspace::Value;
use crate::protocol::ReplyBuf;

/// A container type stored boxed in one keyspace [`Value`] variant, so the typed accessors
/// ([`read_typed`], [`write_typed`]) can serve every family whose accessors share their shape.
pub(super) trait Typed: Sized {
    /// The value as this type, None for another type.
    fn of(v: &Value) -> Option<&Self>;
    /// The value as this type for writing, None for another type.
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    /// Wraps a new value of this type for storing.
    fn into_value(self) -> Value;
    /// True when the container holds nothing (and so must not stay in the keyspace).
    fn holds_nothing(&self) -> bool;
}

/// Implements [`Typed`] for the container `$t` held boxed in `Value::$variant`.
macro_rules! impl_typed {
    ($t:ty, $variant:ident) => {
        impl $crate::commands::typed::Typed for $t {
            #[inline]
            fn of(v: &$crate::keyspace::Value) -> Option<&Self> {
                match v {
                    $crate::keyspace::Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            #[inline]
            fn of_mut(v: &mut $crate::keyspace::Value) -> Option<&mut Self> {
                match v {
                    $crate::keyspace::Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            #[inline]
            fn into_value(self) -> $crate::keyspace::Value {
                $crate::keyspace::Value::$variant(Box::new(self))
            }
            #[inline]
            fn holds_nothing(&self) -> bool {
                self.is_empty()
            }
        }
    };
}
pub(super) use impl_typed;

/// Runs `f` on the live `T` at `key` (None if absent); WRONGTYPE for another type. Counts a keyspace
/// hit or miss and refreshes the access time, as Redis's read lookup does.
#[inline]
pub(super) fn read_typed<T: Typed, R>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(Option<&T>, &mut ReplyBuf) -> R,
) -> Result<R, CommandError> {
    let (touch, lru) = (ctx.touches(), ctx.lru());
    let (hash, mut shard) = ctx.db().lock_key(key);
    let Some(e) = shard.get_live_mut(hash, key, ctx.now_ms) else {
        drop(shard);
        ctx.hit(false, key);
        return Ok(f(None, ctx.out));
    };
    if touch {
        e.access_s = lru;
    }
    let Some(v) = T::of(&e.value) else {
        // Redis's read lookup counts the hit before the command checks the type.
        drop(shard);
        ctx.hit(true, key);
        return Err(CommandError::WrongType);
    };
    let r = f(Some(v), ctx.out);
    drop(shard);
    ctx.hit(true, key);
    Ok(r)
}

/// Runs `f` on the `T` at `key` for writing; if absent, on the value `create` makes when given (stored
/// only if `f` changed it and it is not empty), else on None. `f` returns its result and whether it
/// changed the value: a change takes the revision (and the version), a value left empty is deleted.
#[inline]
pub(super) fn write_typed<T: Typed, R>(
    ctx: &mut Ctx,
    key: &[u8],
    create: Option<impl FnOnce() -> T>,
    f: impl FnOnce(Option<&mut T>) -> Result<(R, bool), CommandError>,
) -> Result<R, CommandError> {
    let lru = ctx.lru();
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    match shard.get_mut(hash, key) {
        Some(e) => {
            let Some(v) = T::of_mut(&mut e.value) else {
                return Err(CommandError::WrongType);
            };
            let (r, changed) = f(Some(v))?;
            let empty = v.holds_nothing();
            if changed && !empty {
                ctx.stamp(e);
                e.access_s = lru;
            }
            if changed && empty {
                ctx.delete(&mut shard, hash, key);
            }
            Ok(r)
        }
        None => match create {
            Some(make) => {
                let mut v = make();
                let (r, changed) = f(Some(&mut v))?;
                if changed && !v.holds_nothing() {
                    ctx.upsert(&mut shard, hash, key, v.into_value(), Ttl::Keep);
                }
                Ok(r)
            }
            None => Ok(f(None)?.0),
        },
    }
}

//! Every error a client can cause, as data; `CommandError::message` is the one place that turns a variant
//! into the exact reply text (Redis's, byte for byte, where Redis has the error).

use std::fmt;

/// An error reply. Variants carry data, never preformatted text, except `Custom` for the rare one-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    UnknownCommand {
        name: String,
        args: String,
    },
    UnknownSubcommand {
        sub: String,
        container: String,
    },
    WrongArity {
        command: String,
    },
    WrongType,
    Syntax,
    NotInteger,
    NotFloat,
    Overflow,
    IncrNanOrInf,
    NoSuchKey,
    InvalidDbIndex,
    DbIndexOutOfRange,
    SameObject,
    InvalidExpire {
        command: String,
    },
    NoAuth,
    WrongPass,
    AuthNotConfigured,
    NoProto,
    OffsetOutOfRange,
    StringTooLong,
    ExpireOptionConflict,
    ExpireGtLtConflict,
    NotAllowedInMulti {
        command: String,
    },
    /// The bare form, for a command refused inside MULTI without naming it.
    NotAllowedInTransaction,
    /// EXEC or DISCARD outside MULTI.
    WithoutMulti {
        command: String,
    },
    /// A subcommand that does not exist or got the wrong number of arguments; `sub` is as the client
    /// sent it (the caller truncates it where Redis does), `container` the command to ask for HELP.
    UnknownSubcommandOrArity {
        sub: String,
        container: String,
    },
    TimeoutNotInteger,
    TimeoutNotFloat,
    TimeoutNegative,
    TimeoutOutOfRange,
    InvalidCursor,
    ValueOutOfRange,
    /// Redis's "must be positive" range error (which, as in Redis, also refuses negatives only).
    ValueNotPositive,
    ValueOutOfRangeBetween {
        min: i64,
        max: i64,
    },
    IndexOutOfRange,
    NumkeysNotPositive,
    NumkeysExceedArgs,
    CountNotPositive,
    LimitNegative,
    NoSuchClient,
    UnknownClientType {
        name: String,
    },
    /// A script or function with the write flag run through EVAL_RO / EVALSHA_RO / FCALL_RO.
    WriteScriptInReadOnly,
    /// CONFIG SET refused a parameter (`name` as the client wrote it).
    ConfigSetFailed {
        name: String,
        reason: String,
    },
    /// A lease id that does not exist (or has ended).
    NoLease {
        id: String,
    },
    /// FENCED: the lock is no longer held with this token.
    Fenced {
        token: String,
        key: String,
    },
    /// FENCED wrapping a command that cannot run inside it.
    FencedForbidden {
        command: String,
    },
    /// KV.WATCH FROMREV older than the retained history.
    Compacted {
        revision: u64,
        oldest: u64,
    },
    /// A millisecond duration that must be positive (PX, LEASE.GRANT, WAIT).
    MsNotPositive {
        what: &'static str,
    },
    /// A lock or semaphore key holding something that is not a lock of that kind.
    NotALock {
        kind: &'static str,
    },
    /// A complete message (code first), for errors that occur once.
    Custom(String),
}

impl CommandError {
    /// The reply text, without the leading `-` and trailing CRLF.
    pub fn message(&self) -> String {
        use CommandError::*;
        match self {
            UnknownCommand { name, args } => {
                format!("ERR unknown command '{name}', with args beginning with: {args}")
            }
            UnknownSubcommand { sub, container } => {
                format!("ERR unknown subcommand '{sub}'. Try {container} HELP.")
            }
            WrongArity { command } => {
                format!("ERR wrong number of arguments for '{command}' command")
            }
            WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value".into()
            }
            Syntax => "ERR syntax error".into(),
            NotInteger => "ERR value is not an integer or out of range".into(),
            NotFloat => "ERR value is not a valid float".into(),
            Overflow => "ERR increment or decrement would overflow".into(),
            IncrNanOrInf => "ERR increment would produce NaN or Infinity".into(),
            NoSuchKey => "ERR no such key".into(),
            InvalidDbIndex => "ERR invalid DB index".into(),
            DbIndexOutOfRange => "ERR DB index is out of range".into(),
            SameObject => "ERR source and destination objects are the same".into(),
            InvalidExpire { command } => {
                format!("ERR invalid expire time in '{command}' command")
            }
            NoAuth => "NOAUTH Authentication required.".into(),
            WrongPass => "WRONGPASS invalid username-password pair or user is disabled.".into(),
            AuthNotConfigured => "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into(),
            NoProto => "NOPROTO unsupported protocol version".into(),
            OffsetOutOfRange => "ERR offset is out of range".into(),
            StringTooLong => "ERR string exceeds maximum allowed size (proto-max-bulk-len)".into(),
            ExpireOptionConflict => {
                "ERR NX and XX, GT or LT options at the same time are not compatible".into()
            }
            ExpireGtLtConflict => "ERR GT and LT options at the same time are not compatible".into(),
            NotAllowedInMulti { command } => {
                format!("ERR Command not allowed inside a transaction: {command}")
            }
            NotAllowedInTransaction => "ERR Command not allowed inside a transaction".into(),
            WithoutMulti { command } => format!("ERR {command} without MULTI"),
            UnknownSubcommandOrArity { sub, container } => format!(
                "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {container} HELP."
            ),
            TimeoutNotInteger => "ERR timeout is not an integer or out of range".into(),
            TimeoutNotFloat => "ERR timeout is not a float or out of range".into(),
            TimeoutNegative => "ERR timeout is negative".into(),
            TimeoutOutOfRange => "ERR timeout is out of range".into(),
            InvalidCursor => "ERR invalid cursor".into(),
            ValueOutOfRange => "ERR value is out of range".into(),
            ValueNotPositive => "ERR value is out of range, must be positive".into(),
            ValueOutOfRangeBetween { min, max } => {
                format!("ERR value is out of range, value must between {min} and {max}")
            }
            IndexOutOfRange => "ERR index out of range".into(),
            NumkeysNotPositive => "ERR numkeys should be greater than 0".into(),
            NumkeysExceedArgs => "ERR Number of keys can't be greater than number of args".into(),
            CountNotPositive => "ERR count should be greater than 0".into(),
            LimitNegative => "ERR LIMIT can't be negative".into(),
            NoSuchClient => "ERR No such client".into(),
            UnknownClientType { name } => format!("ERR Unknown client type '{name}'"),
            WriteScriptInReadOnly => {
                "ERR Can not execute a script with write flag using *_ro command.".into()
            }
            ConfigSetFailed { name, reason } => {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
            }
            NoLease { id } => format!("NOLEASE lease {id} not found"),
            Fenced { token, key } => format!("FENCED token {token} no longer holds '{key}'"),
            FencedForbidden { command } => {
                format!("ERR '{command}' is not allowed inside FENCED")
            }
            Compacted { revision, oldest } => format!(
                "COMPACTED revision {revision} is compacted, oldest available is {oldest}"
            ),
            MsNotPositive { what } => format!("ERR {what} must be a positive number of milliseconds"),
            NotALock { kind } => format!(
                "WRONGTYPE Operation against a key holding something other than a {kind}"
            ),
            Custom(s) => s.clone(),
        }
    }

    /// The error code (first word), for `errorstats` in INFO.
    pub fn code(&self) -> String {
        let m = self.message();
        m.split(' ').next().unwrap_or("ERR").to_string()
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for CommandError {}

/// What a handler returns; the reply itself is already written into the connection's buffer.
pub type CmdResult = Result<(), CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_error_strings_are_byte_exact() {
        assert_eq!(
            CommandError::WrongType.message(),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(CommandError::Syntax.message(), "ERR syntax error");
        assert_eq!(
            CommandError::WrongArity {
                command: "get".into()
            }
            .message(),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            CommandError::UnknownCommand {
                name: "foo".into(),
                args: "'a' ".into()
            }
            .message(),
            "ERR unknown command 'foo', with args beginning with: 'a' "
        );
        assert_eq!(
            CommandError::NotInteger.message(),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn recurring_errors_keep_their_redis_strings_and_codes() {
        use CommandError::*;
        let cases: Vec<(CommandError, &str)> = vec![
            (
                NotAllowedInTransaction,
                "ERR Command not allowed inside a transaction",
            ),
            (
                WithoutMulti {
                    command: "EXEC".into(),
                },
                "ERR EXEC without MULTI",
            ),
            (
                UnknownSubcommandOrArity {
                    sub: "foo".into(),
                    container: "XINFO".into(),
                },
                "ERR unknown subcommand or wrong number of arguments for 'foo'. Try XINFO HELP.",
            ),
            (
                TimeoutNotInteger,
                "ERR timeout is not an integer or out of range",
            ),
            (
                TimeoutNotFloat,
                "ERR timeout is not a float or out of range",
            ),
            (TimeoutNegative, "ERR timeout is negative"),
            (TimeoutOutOfRange, "ERR timeout is out of range"),
            (InvalidCursor, "ERR invalid cursor"),
            (ValueOutOfRange, "ERR value is out of range"),
            (
                ValueNotPositive,
                "ERR value is out of range, must be positive",
            ),
            (
                ValueOutOfRangeBetween {
                    min: -i64::MAX,
                    max: i64::MAX,
                },
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ),
            (IndexOutOfRange, "ERR index out of range"),
            (NumkeysNotPositive, "ERR numkeys should be greater than 0"),
            (
                NumkeysExceedArgs,
                "ERR Number of keys can't be greater than number of args",
            ),
            (CountNotPositive, "ERR count should be greater than 0"),
            (LimitNegative, "ERR LIMIT can't be negative"),
            (NoSuchClient, "ERR No such client"),
            (
                UnknownClientType {
                    name: "bogus".into(),
                },
                "ERR Unknown client type 'bogus'",
            ),
            (
                WriteScriptInReadOnly,
                "ERR Can not execute a script with write flag using *_ro command.",
            ),
            (
                ConfigSetFailed {
                    name: "maxmemory".into(),
                    reason: "argument must be a memory value".into(),
                },
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.message(), text);
            assert_eq!(e.code(), "ERR", "{text}");
        }
    }
}

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
}

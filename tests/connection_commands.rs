//! Connection commands over TCP: AUTH/HELLO flows, RESP3, CLIENT subcommands, SELECT/SWAPDB/FLUSH*.

#[path = "protocol_resp.rs"]
mod resp;
mod support;

use resp::{Raw, Reply};
use std::time::{Duration, Instant};
use support::TestServer;

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

fn err(s: &str) -> Reply {
    Reply::Error(s.into())
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

const NOAUTH_HELLO: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";

#[test]
fn requirepass_auth_and_noauth_flows() {
    let s = TestServer::start_with(&["--requirepass", "secret"]);
    let mut r = Raw::connect(s.port);
    assert_eq!(r.cmd(&["GET", "k"]), err("NOAUTH Authentication required."));
    assert_eq!(r.cmd(&["HELLO", "3"]), err(NOAUTH_HELLO));
    let wrongpass = err("WRONGPASS invalid username-password pair or user is disabled.");
    assert_eq!(r.cmd(&["AUTH", "nope"]), wrongpass);
    assert_eq!(r.cmd(&["AUTH", "someone", "secret"]), wrongpass);
    assert_eq!(r.cmd(&["AUTH", "default", "secret"]), ok());
    assert_eq!(r.cmd(&["PING"]), Reply::Simple("PONG".into()));

    // HELLO AUTH authenticates and switches protocol in one step; a syntax error leaves the client
    // unauthenticated.
    let mut h = Raw::connect(s.port);
    assert_eq!(
        h.cmd(&["HELLO", "3", "AUTH", "default", "secret", "bogus"]),
        err("ERR Syntax error in HELLO option 'bogus'")
    );
    assert_eq!(h.cmd(&["PING"]), err("NOAUTH Authentication required."));
    assert_eq!(h.cmd(&["HELLO", "3", "AUTH", "default", "bad"]), wrongpass);
    let Reply::Map(m) = h.cmd(&["HELLO", "3", "AUTH", "default", "secret"]) else {
        panic!("HELLO 3 is not a map");
    };
    assert_eq!(m[2], (bulk("proto"), Reply::Int(3)));
    assert_eq!(h.cmd(&["GET", "missing"]), Reply::Nil);

    // RESET drops authentication again.
    assert_eq!(h.cmd(&["RESET"]), Reply::Simple("RESET".into()));
    assert_eq!(h.cmd(&["PING"]), err("NOAUTH Authentication required."));

    // Changing the password at runtime applies to new connections.
    assert_eq!(r.cmd(&["CONFIG", "SET", "requirepass", ""]), ok());
    let mut n = Raw::connect(s.port);
    assert_eq!(n.cmd(&["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(
        n.cmd(&["AUTH", "x"]),
        err(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
        )
    );
}

#[test]
fn hello_3_reply_map_and_resp3_types() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    r.send(b"HELLO 3\r\n");
    let mut head = [0u8; 4];
    std::io::Read::read_exact(&mut r.r, &mut head).unwrap();
    assert_eq!(&head, b"%7\r\n", "HELLO 3 replies with a RESP3 map");
    let mut rest = Vec::new();
    for _ in 0..14 {
        rest.push(resp::read_reply(&mut r.r).unwrap());
    }
    let keys: Vec<String> = rest.iter().step_by(2).map(Reply::text).collect();
    assert_eq!(
        keys,
        [
            "server", "version", "proto", "id", "mode", "role", "modules"
        ]
    );
    assert_eq!(rest[1], bulk("redis"));
    assert_eq!(rest[5], Reply::Int(3));
    assert_eq!(rest[9], bulk("standalone"));
    assert_eq!(rest[11], bulk("master"));
    assert_eq!(rest[13], Reply::Array(vec![]));

    // RESP3 null, map and verbatim string.
    r.send(b"GET nosuch\r\n");
    let mut null = [0u8; 3];
    std::io::Read::read_exact(&mut r.r, &mut null).unwrap();
    assert_eq!(&null, b"_\r\n");
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "maxclients"]),
        Reply::Map(vec![(bulk("maxclients"), bulk("10000"))])
    );
    assert!(matches!(r.cmd(&["CLIENT", "INFO"]), Reply::Verbatim(_)));
    assert!(matches!(r.cmd(&["CLIENT", "GETNAME"]), Reply::Nil));

    // Back to RESP2: flat arrays and $-1.
    assert!(matches!(r.cmd(&["HELLO", "2"]), Reply::Array(ref a) if a.len() == 14));
    assert_eq!(r.cmd(&["GET", "nosuch"]), Reply::Nil);
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "maxclients"]),
        Reply::Array(vec![bulk("maxclients"), bulk("10000")])
    );
    assert_eq!(
        r.cmd(&["HELLO", "4"]),
        err("NOPROTO unsupported protocol version")
    );
    assert_eq!(
        r.cmd(&["HELLO", "x"]),
        err("ERR Protocol version is not an integer or out of range")
    );
    assert_eq!(
        r.cmd(&["HELLO", "3", "SETNAME", "a b"]),
        err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert!(matches!(
        r.cmd(&["HELLO", "2", "SETNAME", "named"]),
        Reply::Array(_)
    ));
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), bulk("named"));
}

#[test]
fn client_name_id_info_and_list() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    let Reply::Int(id) = r.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID is not an integer")
    };
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), Reply::Nil);
    assert_eq!(r.cmd(&["CLIENT", "SETNAME", "worker-1"]), ok());
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), bulk("worker-1"));
    assert_eq!(
        r.cmd(&["CLIENT", "SETNAME", "bad name"]),
        err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(r.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]), ok());
    assert_eq!(r.cmd(&["CLIENT", "SETINFO", "LIB-VER", "1.2.3"]), ok());
    assert_eq!(
        r.cmd(&["CLIENT", "SETINFO", "NOPE", "x"]),
        err("ERR Unrecognized option 'NOPE'")
    );
    assert_eq!(r.cmd(&["CLIENT", "NO-EVICT", "ON"]), ok());
    assert_eq!(r.cmd(&["CLIENT", "NO-TOUCH", "ON"]), ok());
    assert_eq!(
        r.cmd(&["CLIENT", "NO-EVICT", "maybe"]),
        err("ERR syntax error")
    );
    assert_eq!(r.cmd(&["SELECT", "3"]), ok());
    let info = r.cmd(&["CLIENT", "INFO"]).text();
    assert!(
        info.starts_with(&format!("id={id} addr=127.0.0.1:")),
        "{info}"
    );
    for field in [
        " name=worker-1 ",
        " flags=eT ",
        " db=3 ",
        " qbuf=26 ",
        " cmd=client|info ",
        " user=default ",
        " resp=2 ",
        " lib-name=mylib ",
        " lib-ver=1.2.3",
    ] {
        assert!(info.contains(field), "{field:?} missing from {info}");
    }
    assert!(info.ends_with('\n'));
    let mut other = Raw::connect(s.port);
    assert_eq!(other.cmd(&["PING"]), Reply::Simple("PONG".into()));
    let list = r.cmd(&["CLIENT", "LIST"]).text();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("cmd=ping"), "{list}");
    let mine = r.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]).text();
    assert_eq!(mine.lines().count(), 1);
    assert!(mine.contains("cmd=client|list"));
    assert_eq!(
        r.cmd(&["CLIENT", "LIST", "ID", "abc"]),
        err("ERR Invalid client ID")
    );
    assert_eq!(
        r.cmd(&["CLIENT", "LIST", "TYPE", "foo"]),
        err("ERR Unknown client type 'foo'")
    );
}

#[test]
fn client_maint_notifications_is_an_unknown_subcommand_as_in_redis_7() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    assert_eq!(
        r.cmd(&[
            "CLIENT",
            "MAINT_NOTIFICATIONS",
            "on",
            "moving-endpoint-type",
            "internal-ip"
        ]),
        err("ERR unknown subcommand 'MAINT_NOTIFICATIONS'. Try CLIENT HELP.")
    );
    assert_eq!(r.cmd(&["PING"]), Reply::Simple("PONG".into()));
}

fn wait_closed(r: &mut Raw) -> bool {
    r.stream()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .ok();
    let mut b = [0u8; 64];
    matches!(std::io::Read::read(r.stream(), &mut b), Ok(0) | Err(_))
}

#[test]
fn client_kill_by_id_addr_and_skipme() {
    let s = TestServer::start();
    let mut admin = Raw::connect(s.port);
    let mut a = Raw::connect(s.port);
    let Reply::Int(a_id) = a.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "ID", &a_id.to_string()]),
        Reply::Int(1)
    );
    assert!(wait_closed(&mut a));

    let mut b = Raw::connect(s.port);
    b.cmd(&["PING"]);
    let b_addr = b.stream().local_addr().unwrap().to_string();
    assert_eq!(admin.cmd(&["CLIENT", "KILL", &b_addr]), ok());
    assert!(wait_closed(&mut b));
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", &b_addr]),
        err("ERR No such client")
    );

    let mut c = Raw::connect(s.port);
    c.cmd(&["PING"]);
    let c_addr = c.stream().local_addr().unwrap().to_string();
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "ADDR", &c_addr]),
        Reply::Int(1)
    );
    assert!(wait_closed(&mut c));

    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "ID", "0"]),
        err("ERR client-id should be greater than 0")
    );
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "USER", "nobody"]),
        err("ERR No such user 'nobody'")
    );
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "SKIPME", "maybe"]),
        err("ERR syntax error")
    );
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "ID", "10", "x"]),
        err("ERR syntax error")
    );

    let mut d = Raw::connect(s.port);
    d.cmd(&["PING"]);
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "SKIPME", "yes"]),
        Reply::Int(1)
    );
    assert!(wait_closed(&mut d));
    assert_eq!(admin.cmd(&["PING"]), Reply::Simple("PONG".into()));
    // SKIPME no kills the caller too, after its reply.
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "SKIPME", "no"]),
        Reply::Int(1)
    );
    assert!(wait_closed(&mut admin));
}

#[test]
fn client_reply_off_on_skip() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    r.send(b"CLIENT REPLY OFF\r\nSET a 1\r\nINCR a\r\nCLIENT REPLY ON\r\nGET a\r\n");
    assert_eq!(r.read(), ok());
    assert_eq!(r.read(), bulk("2"));
    r.send(b"CLIENT REPLY SKIP\r\nINCR a\r\nINCR a\r\n");
    assert_eq!(r.read(), Reply::Int(4));
    assert_eq!(
        r.cmd(&["CLIENT", "REPLY", "maybe"]),
        err("ERR syntax error")
    );
}

#[test]
fn select_swapdb_flushdb_flushall() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    assert_eq!(
        r.cmd(&["SELECT", "16"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        r.cmd(&["SELECT", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(r.cmd(&["SET", "k0", "zero"]), ok());
    assert_eq!(r.cmd(&["SELECT", "1"]), ok());
    assert_eq!(r.cmd(&["SET", "k1", "one"]), ok());
    let mut other = Raw::connect(s.port);
    assert_eq!(r.cmd(&["SWAPDB", "0", "1"]), ok());
    // Swapping is visible to every client selected on either database.
    assert_eq!(other.cmd(&["GET", "k1"]), bulk("one"));
    assert_eq!(r.cmd(&["GET", "k0"]), bulk("zero"));
    assert_eq!(
        r.cmd(&["SWAPDB", "0", "16"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        r.cmd(&["SWAPDB", "x", "0"]),
        err("ERR invalid first DB index")
    );
    assert_eq!(
        r.cmd(&["SWAPDB", "0", "x"]),
        err("ERR invalid second DB index")
    );
    assert_eq!(r.cmd(&["FLUSHDB", "FOO"]), err("ERR syntax error"));
    assert_eq!(r.cmd(&["FLUSHDB", "ASYNC"]), ok());
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::Int(0));
    assert_eq!(other.cmd(&["DBSIZE"]), Reply::Int(1));
    for i in 0..1000 {
        r.cmd(&["SET", &format!("x{i}"), "v"]);
    }
    assert_eq!(other.cmd(&["FLUSHALL", "ASYNC"]), ok());
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::Int(0));
    assert_eq!(other.cmd(&["DBSIZE"]), Reply::Int(0));
    assert_eq!(r.cmd(&["FLUSHALL", "SYNC"]), ok());
}

#[test]
fn quit_and_reset() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    assert_eq!(r.cmd(&["SELECT", "2"]), ok());
    assert_eq!(r.cmd(&["CLIENT", "SETNAME", "n"]), ok());
    assert!(matches!(r.cmd(&["HELLO", "3"]), Reply::Map(_)));
    assert_eq!(r.cmd(&["RESET"]), Reply::Simple("RESET".into()));
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), Reply::Nil);
    let info = r.cmd(&["CLIENT", "INFO"]).text();
    assert!(
        info.contains(" db=0 ") && info.contains(" resp=2"),
        "{info}"
    );
    let t = Instant::now();
    r.send(b"QUIT\r\n");
    assert_eq!(r.read_to_close(), b"+OK\r\n");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let s = TestServer::start();
    let mut admin = Raw::connect(s.port);
    assert_eq!(admin.cmd(&["CONFIG", "SET", "timeout", "1"]), ok());
    let mut idle = Raw::connect(s.port);
    assert_eq!(idle.cmd(&["PING"]), Reply::Simple("PONG".into()));
    let t = Instant::now();
    assert!(wait_closed(&mut idle), "idle client was not closed");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "closed too early"
    );
    // The admin connection sat idle just as long, so it is gone too; a new one is served.
    assert!(wait_closed(&mut admin));
    let mut fresh = Raw::connect(s.port);
    assert_eq!(fresh.cmd(&["CONFIG", "SET", "timeout", "0"]), ok());
}

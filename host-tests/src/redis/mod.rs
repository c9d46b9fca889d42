//! A small Redis client for the key-value store: RESP2 over TCP, the five commands the store needs
//! (`GET`, `SET`, `DEL`, `EXISTS`, `SCAN`) plus `AUTH`/`SELECT` when connecting, and a pool of
//! idle connections.
//!
//! The data layout is the one Spin's Redis key-value provider (`spin-key-value-redis`) uses: the
//! store's keys are Redis keys as they are (no prefix), values are Redis strings holding the bytes
//! as they are, nothing expires on the Redis side (the router keeps its own expiry times in the
//! values), and the whole database named by the URL is the store `default`. So several `apex`
//! processes, and Spin apps whose `default` store has the same Redis URL, share one state.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::kv::{KvBackend, KvError, KvFuture};

/// The one store name a Redis URL serves (Spin: the `default` label of the runtime config).
pub const STORE: &str = "default";
/// Longest a command (or a connection attempt) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept for reuse.
const MAX_IDLE: usize = 32;
/// Largest reply accepted (Redis's own limit for one string).
const MAX_BULK: usize = 512 << 20;
/// Keys asked for per `SCAN` call, and `SCAN` calls at most for one listing.
const SCAN_COUNT: &str = "1000";
const MAX_SCAN_CALLS: usize = 1_000_000;

/// Where the data lives: `redis://[[user]:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// `host:port` (IPv6 hosts in brackets).
    pub address: String,
    pub db: u32,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl RedisUrl {
    pub fn parse(url: &str) -> Result<Self> {
        let rest = if let Some(rest) = url.strip_prefix("redis://") {
            rest
        } else if url.starts_with("rediss://") {
            bail!(
                "`{}`: TLS (rediss://) is not supported by the apex host; reach Redis over a \
                 trusted network or a local TLS tunnel with redis://",
                redact(url)
            )
        } else {
            bail!(
                "`{}` is not a Redis URL (redis://[[user]:password@]host[:port][/db])",
                redact(url)
            )
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let (credentials, host_port) = match authority.rsplit_once('@') {
            Some((credentials, host_port)) => (Some(credentials), host_port),
            None => (None, authority),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(credentials) => {
                let (user, password) = match credentials.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (credentials, None),
                };
                let user = Some(percent_decode(user)?).filter(|u| !u.is_empty());
                let password = password.map(percent_decode).transpose()?;
                // `redis://secret@host`: a lone value is the password (no ACL user).
                match (user, password) {
                    (Some(user), None) => (None, Some(user)),
                    other => other,
                }
            }
        };
        if host_port.is_empty() {
            bail!("`{}` names no host", redact(url));
        }
        let has_port = match host_port.rfind(']') {
            Some(bracket) => host_port[bracket..].contains(':'),
            None => host_port.contains(':'),
        };
        let address = if has_port {
            host_port.to_string()
        } else {
            format!("{host_port}:6379")
        };
        let db = if path.is_empty() {
            0
        } else {
            path.parse()
                .with_context(|| format!("`{}`: the database must be a number", redact(url)))?
        };
        Ok(Self {
            address,
            db,
            username,
            password,
        })
    }

    /// The URL without its password, for logs.
    pub fn display(&self) -> String {
        let auth = match (&self.username, &self.password) {
            (Some(user), _) => format!("{user}:***@"),
            (None, Some(_)) => ":***@".to_string(),
            (None, None) => String::new(),
        };
        format!("redis://{auth}{}/{}", self.address, self.db)
    }
}

/// `url` with whatever sits between `://` and `@` hidden.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .context("a bad %-escape in the Redis URL's credentials")?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("the Redis URL's credentials are not UTF-8")
}

/// A reply, RESP2.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

struct Connection {
    stream: BufReader<TcpStream>,
}

impl Connection {
    async fn open(url: &RedisUrl) -> Result<Self> {
        let stream = tokio::time::timeout(COMMAND_TIMEOUT, TcpStream::connect(&url.address))
            .await
            .context("timed out")
            .and_then(|connected| Ok(connected?))
            .with_context(|| format!("connecting to Redis at {}", url.address))?;
        let _ = stream.set_nodelay(true);
        let mut connection = Self {
            stream: BufReader::new(stream),
        };
        if let Some(password) = &url.password {
            let mut auth = vec![b"AUTH".to_vec()];
            if let Some(user) = &url.username {
                auth.push(user.as_bytes().to_vec());
            }
            auth.push(password.as_bytes().to_vec());
            connection.expect_ok(&auth).await.context("Redis AUTH")?;
        }
        if url.db != 0 {
            let select = [b"SELECT".to_vec(), url.db.to_string().into_bytes()];
            connection
                .expect_ok(&select)
                .await
                .context("Redis SELECT")?;
        }
        Ok(connection)
    }

    async fn expect_ok(&mut self, command: &[Vec<u8>]) -> Result<()> {
        match self.call(command).await? {
            Reply::Status(_) => Ok(()),
            Reply::Error(e) => bail!("{e}"),
            other => bail!("unexpected reply {other:?}"),
        }
    }

    /// Sends one command and reads its reply.
    async fn call(&mut self, command: &[Vec<u8>]) -> Result<Reply> {
        let io = async {
            self.stream.get_mut().write_all(&encode(command)).await?;
            read_reply(&mut self.stream, 0).await
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, io).await {
            Ok(reply) => reply,
            Err(_) => Err(TimedOut.into()),
        }
    }
}

/// Redis did not answer within [`COMMAND_TIMEOUT`] (not retried: a stalled server would make every
/// key-value call wait twice).
#[derive(Debug)]
struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redis did not answer within {COMMAND_TIMEOUT:?}")
    }
}

impl std::error::Error for TimedOut {}

/// A command as a RESP array of bulk strings.
fn encode(command: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", command.len()).into_bytes();
    for part in command {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn read_line(stream: &mut BufReader<TcpStream>) -> Result<String> {
    let mut line = Vec::new();
    let read = (&mut *stream)
        .take(64 * 1024)
        .read_until(b'\n', &mut line)
        .await?;
    if read == 0 {
        bail!("Redis closed the connection");
    }
    let Some(line) = line.strip_suffix(b"\r\n") else {
        bail!("a malformed Redis reply line");
    };
    Ok(String::from_utf8_lossy(line).into_owned())
}

fn read_reply(
    stream: &mut BufReader<TcpStream>,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply>> + Send + '_>> {
    Box::pin(async move {
        if depth > 8 {
            bail!("Redis reply nested too deeply");
        }
        let line = read_line(stream).await?;
        let (kind, rest) = line
            .split_at_checked(1)
            .context("an empty Redis reply line")?;
        let length = || -> Result<Option<usize>> {
            let n: i64 = rest.parse().context("a bad length in a Redis reply")?;
            if n < 0 {
                return Ok(None);
            }
            let n = usize::try_from(n)?;
            if n > MAX_BULK {
                bail!("a Redis reply of {n} bytes is larger than allowed");
            }
            Ok(Some(n))
        };
        Ok(match kind {
            "+" => Reply::Status(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Integer(rest.parse().context("a bad integer in a Redis reply")?),
            "$" => match length()? {
                None => Reply::Bulk(None),
                Some(n) => {
                    let mut data = vec![0; n + 2];
                    stream.read_exact(&mut data).await?;
                    if data.split_off(n) != b"\r\n" {
                        bail!("a malformed Redis bulk reply");
                    }
                    Reply::Bulk(Some(data))
                }
            },
            "*" => match length()? {
                None => Reply::Array(None),
                Some(n) => {
                    let mut items = Vec::with_capacity(n.min(1024));
                    for _ in 0..n {
                        items.push(read_reply(stream, depth + 1).await?);
                    }
                    Reply::Array(Some(items))
                }
            },
            other => bail!("an unknown Redis reply type `{other}`"),
        })
    })
}

/// The key-value store in a Redis database (see the module docs for the layout).
pub struct RedisKv {
    url: RedisUrl,
    idle: Mutex<Vec<Connection>>,
    /// When an error was last logged (unix seconds): at most one line a second.
    last_logged: AtomicU64,
}

impl RedisKv {
    /// Connects once (so a wrong URL or password stops the start) and keeps the connection.
    pub async fn connect(url: &str) -> Result<Self> {
        let url = RedisUrl::parse(url)?;
        let store = Self {
            idle: Mutex::new(Vec::new()),
            last_logged: AtomicU64::new(0),
            url,
        };
        let mut connection = Connection::open(&store.url)
            .await
            .with_context(|| format!("opening the key-value store {}", store.url.display()))?;
        match connection.call(&[b"PING".to_vec()]).await? {
            Reply::Status(_) => {}
            other => bail!("Redis answered PING with {other:?}"),
        }
        store.put_back(connection);
        Ok(store)
    }

    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    fn put_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
    }

    /// Runs `command` on an idle connection (or a new one). A reused connection that fails (Redis
    /// restarted, say) is dropped and the command sent once more on a fresh one: every command
    /// the store sends is idempotent. A timeout is not retried.
    async fn call(&self, command: &[Vec<u8>]) -> Result<Reply, KvError> {
        let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(mut connection) = reused {
            match connection.call(command).await {
                Ok(reply) => {
                    self.put_back(connection);
                    return self.checked(reply);
                }
                Err(e) if e.is::<TimedOut>() => return Err(self.failed(format!("{e:#}"))),
                // A dead connection: try a fresh one.
                Err(_) => {}
            }
        }
        let attempt = async {
            let mut connection = Connection::open(&self.url).await?;
            let reply = connection.call(command).await?;
            Ok::<_, anyhow::Error>((connection, reply))
        };
        match attempt.await {
            Ok((connection, reply)) => {
                self.put_back(connection);
                self.checked(reply)
            }
            Err(e) => Err(self.failed(format!("{e:#}"))),
        }
    }

    fn checked(&self, reply: Reply) -> Result<Reply, KvError> {
        match reply {
            Reply::Error(e) => Err(self.failed(e)),
            reply => Ok(reply),
        }
    }

    fn failed(&self, message: String) -> KvError {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        if self.last_logged.swap(now, Ordering::Relaxed) != now {
            eprintln!("apex: key-value store {}: {message}", self.url.display());
        }
        // The guest may show this to clients: no address or Redis detail in it (those are logged).
        KvError::Other("key-value store unavailable".to_string())
    }

    fn unexpected(&self, command: &str, reply: Reply) -> KvError {
        self.failed(format!("unexpected reply to {command}: {reply:?}"))
    }

    fn check_store(bucket: &str) -> Result<(), KvError> {
        if bucket == STORE {
            Ok(())
        } else {
            Err(KvError::NoSuchStore)
        }
    }

    async fn list(&self) -> Result<Vec<String>, KvError> {
        let mut keys = Vec::new();
        let mut cursor = b"0".to_vec();
        for _ in 0..MAX_SCAN_CALLS {
            let command = [
                b"SCAN".to_vec(),
                cursor.clone(),
                b"COUNT".to_vec(),
                SCAN_COUNT.as_bytes().to_vec(),
            ];
            let reply = self.call(&command).await?;
            let Reply::Array(Some(mut parts)) = reply else {
                return Err(self.unexpected("SCAN", reply));
            };
            let (Some(Reply::Array(Some(batch))), Some(Reply::Bulk(Some(next)))) =
                (parts.pop(), parts.pop())
            else {
                return Err(self.failed("a malformed SCAN reply".into()));
            };
            for key in batch {
                if let Reply::Bulk(Some(key)) = key {
                    // Keys the router writes are UTF-8; anything else is someone else's.
                    if let Ok(key) = String::from_utf8(key) {
                        keys.push(key);
                    }
                }
            }
            if next == b"0" {
                keys.sort();
                keys.dedup();
                return Ok(keys);
            }
            cursor = next;
        }
        Err(self.failed("SCAN did not finish".into()))
    }
}

fn command(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

impl KvBackend for RedisKv {
    fn open(&self, bucket: &str) -> Result<(), KvError> {
        Self::check_store(bucket)
    }

    fn increment<'a>(&'a self, bucket: &'a str, key: &'a str, delta: i64) -> KvFuture<'a, i64> {
        Box::pin(async move {
            Self::check_store(bucket)?;
            let delta = delta.to_string();
            match self
                .call(&command(&[b"INCRBY", key.as_bytes(), delta.as_bytes()]))
                .await?
            {
                Reply::Integer(n) => Ok(n),
                Reply::Error(message) => Err(KvError::Other(message)),
                other => Err(self.unexpected("INCRBY", other)),
            }
        })
    }

    fn get<'a>(&'a self, bucket: &'a str, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            Self::check_store(bucket)?;
            match self.call(&command(&[b"GET", key.as_bytes()])).await? {
                Reply::Bulk(value) => Ok(value),
                other => Err(self.unexpected("GET", other)),
            }
        })
    }

    fn set<'a>(&'a self, bucket: &'a str, key: &'a str, value: Vec<u8>) -> KvFuture<'a, ()> {
        Box::pin(async move {
            Self::check_store(bucket)?;
            let set = vec![b"SET".to_vec(), key.as_bytes().to_vec(), value];
            match self.call(&set).await? {
                Reply::Status(_) => Ok(()),
                other => Err(self.unexpected("SET", other)),
            }
        })
    }

    fn delete<'a>(&'a self, bucket: &'a str, key: &'a str) -> KvFuture<'a, ()> {
        Box::pin(async move {
            Self::check_store(bucket)?;
            match self.call(&command(&[b"DEL", key.as_bytes()])).await? {
                Reply::Integer(_) => Ok(()),
                other => Err(self.unexpected("DEL", other)),
            }
        })
    }

    fn exists<'a>(&'a self, bucket: &'a str, key: &'a str) -> KvFuture<'a, bool> {
        Box::pin(async move {
            Self::check_store(bucket)?;
            match self.call(&command(&[b"EXISTS", key.as_bytes()])).await? {
                Reply::Integer(n) => Ok(n > 0),
                other => Err(self.unexpected("EXISTS", other)),
            }
        })
    }

    fn keys<'a>(&'a self, bucket: &'a str) -> KvFuture<'a, Vec<String>> {
        Box::pin(async move {
            Self::check_store(bucket)?;
            self.list().await
        })
    }
}

#[cfg(test)]
mod tests;

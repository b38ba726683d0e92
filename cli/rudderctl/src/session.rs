//! What a command runs with: its output streams and stdin ([`Io`], captured in
//! tests), the global flags, and the client built from them on first use.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use rudder_client::{Client, ClientConfig, KubeconfigOptions, RetryPolicy};

use crate::cli::{GlobalArgs, parse_duration};

/// A writer whose bytes tests read back.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(pub Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut inner) = self.0.lock() {
            inner.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// stdout, stderr, stdin and the clock of one run.
pub struct Io {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    stdin: Box<dyn Read + Send>,
    /// A fixed "now" (Unix seconds) for AGE columns; the system clock when None.
    pub now: Option<i64>,
    /// The editor command of `edit` (`KUBE_EDITOR`, else `EDITOR`, else `vi`); run
    /// through `sh -c` with the file appended.
    pub editor: String,
    /// Whether stdout is a terminal (progress lines are drawn only there).
    pub terminal: bool,
}

impl Io {
    /// The process' streams and clock.
    pub fn std() -> Io {
        Io {
            out: Box::new(std::io::stdout()),
            err: Box::new(std::io::stderr()),
            stdin: Box::new(std::io::stdin()),
            now: None,
            editor: std::env::var("KUBE_EDITOR")
                .or_else(|_| std::env::var("EDITOR"))
                .ok()
                .filter(|e| !e.trim().is_empty())
                .unwrap_or_else(|| "vi".to_string()),
            terminal: std::io::IsTerminal::is_terminal(&std::io::stdout()),
        }
    }

    /// Captured stdout and stderr, `stdin` as input, a fixed clock: for tests.
    pub fn captured(stdin: &str, now: i64) -> (Io, SharedBuffer, SharedBuffer) {
        let (out, err) = (SharedBuffer::default(), SharedBuffer::default());
        let io = Io {
            out: Box::new(out.clone()),
            err: Box::new(err.clone()),
            stdin: Box::new(std::io::Cursor::new(stdin.as_bytes().to_vec())),
            now: Some(now),
            editor: "false".to_string(),
            terminal: false,
        };
        (io, out, err)
    }

    /// Writes to stdout; a closed pipe is not an error worth reporting.
    pub fn print(&mut self, text: &str) {
        let _closed = self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush());
    }

    /// Writes to stderr.
    pub fn eprint(&mut self, text: &str) {
        let _closed = self
            .err
            .write_all(text.as_bytes())
            .and_then(|()| self.err.flush());
    }

    /// All of stdin (for `-f -`).
    pub fn read_stdin(&mut self) -> std::io::Result<String> {
        let mut text = String::new();
        self.stdin.read_to_string(&mut text)?;
        Ok(text)
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        })
    }
}

/// One command's run: global flags, streams, and a lazily built client.
pub struct Session<'a> {
    /// `--kubeconfig`, `--context`, `-n`, `--request-timeout`.
    pub global: GlobalArgs,
    /// Streams and clock.
    pub io: &'a mut Io,
    client: Option<Client>,
}

impl<'a> Session<'a> {
    /// A session that has not connected yet.
    pub fn new(global: GlobalArgs, io: &'a mut Io) -> Session<'a> {
        Session {
            global,
            io,
            client: None,
        }
    }

    /// The kubeconfig options of the global flags.
    pub fn kubeconfig_options(&self) -> KubeconfigOptions {
        KubeconfigOptions {
            path: self.global.kubeconfig.clone(),
            context: self.global.context.clone(),
            namespace: self.global.namespace.clone(),
        }
    }

    /// The client for the selected kubeconfig context (built once). A CLI reports
    /// an unreachable server quickly: three attempts, not a component's patience.
    pub fn client(&mut self) -> anyhow::Result<Client> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let mut config = ClientConfig::load(&self.kubeconfig_options())?;
        if let Some(timeout) =
            parse_duration(&self.global.request_timeout).map_err(anyhow::Error::msg)?
        {
            config.request_timeout = timeout;
        }
        let retry = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let client = Client::new(config)?.with_retry_policy(retry);
        self.client = Some(client.clone());
        Ok(client)
    }

    /// `-n`, else the context's namespace, else `default`.
    pub fn namespace(&mut self) -> anyhow::Result<String> {
        Ok(self.client()?.default_namespace().to_string())
    }

    /// Writes to stdout.
    pub fn print(&mut self, text: &str) {
        self.io.print(text);
    }

    /// Writes to stderr.
    pub fn eprint(&mut self, text: &str) {
        self.io.eprint(text);
    }
}

//! The integration-test harness: builds the real `cairn` binary once, starts
//! nodes as child processes on free loopback ports with their own data
//! directories, and kills them (`SIGKILL`) or stops them on demand.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a node may take to become ready.
pub const READY_TIMEOUT_MS: u64 = 60_000;

/// The path of the `cairn` binary, built once per test process with the same
/// cargo and profile that built the tests.
pub fn cairn_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "cairn", "--bin", "cairn"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for the cairn binary");
        assert!(status.success(), "cargo build -p cairn failed");
        // Tests run from target/<profile>/deps/; the binary sits in target/<profile>/.
        let test_exe = std::env::current_exe().expect("current test executable");
        let profile_dir = test_exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable under target/<profile>/deps");
        let binary = profile_dir.join(format!("cairn{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.exists(),
            "built binary not found at {}",
            binary.display()
        );
        binary
    })
}

/// A loopback port that nothing listens on now and that this process has not
/// handed out before. Drawn below Linux's ephemeral range (32768 and up by
/// default), as `scripts/lib.sh` draws its ports: inside it the kernel gives
/// the same ports to outgoing connections and to `bind(":0")` elsewhere, and
/// one taken between this check and the node's own bind left the node
/// exiting with "Address already in use".
pub fn free_port() -> u16 {
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        // Processes started together begin at different places.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        AtomicU32::new(std::process::id().wrapping_mul(7_919).wrapping_add(nanos))
    });
    for _ in 0..COUNT {
        let port = (FIRST + next.fetch_add(1, Ordering::Relaxed) % COUNT) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {FIRST}..{}", FIRST + COUNT);
}

/// Makes a CA and certificates for nodes `1..=nodes` in `dir` with
/// `config/cluster-3/make-certs.sh` (which needs `openssl`): `ca.pem`,
/// `nodeN.pem`, `nodeN.key`, for 127.0.0.1 and localhost.
pub fn make_certs(dir: &Path, nodes: u64) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/cluster-3/make-certs.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg(dir)
        .arg(nodes.to_string())
        .output()
        .expect("run make-certs.sh");
    assert!(
        output.status.success(),
        "make-certs.sh failed (is openssl installed?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `[tls]` table for node `node_id` with certificates from `make_certs`.
pub fn tls_table(certs: &Path, node_id: u64) -> String {
    let file = |name: String| certs.join(name);
    format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {:?}\n",
        file(format!("node{node_id}.pem")),
        file(format!("node{node_id}.key")),
        file("ca.pem".to_string()),
    )
}

/// One node process with its own data directory and config file.
pub struct NodeProcess {
    pub node_id: u64,
    pub http_addr: String,
    pub raft_addr: String,
    pub data_dir: PathBuf,
    pub config_path: PathBuf,
    /// Set when the node serves https: the CA that signed its certificate,
    /// which its clients (and the CLI) trust.
    pub ca_file: Option<PathBuf>,
    child: Option<Child>,
    log_path: PathBuf,
}

/// The operator's token every test node is configured with (`[auth] admin_token`).
pub const OPERATOR_TOKEN: &str = "cairn-test-operator-token-0123456789";

/// A client for `url` under the operator's token.
pub fn operator_client(url: &str) -> cairn_client::Client {
    cairn_client::Client::new(url)
        .expect("client for node")
        .with_token(OPERATOR_TOKEN)
}

impl NodeProcess {
    /// Writes a single-node config under `dir` and starts the node.
    pub fn start_single(dir: &Path) -> NodeProcess {
        let mut node = NodeProcess::configure(dir, 1, "bootstrap = true\n");
        node.spawn();
        node
    }

    /// Writes a config for node `node_id` under `dir/node-<id>`; `extra` is
    /// appended to the TOML verbatim.
    pub fn configure(dir: &Path, node_id: u64, extra: &str) -> NodeProcess {
        let node_dir = dir.join(format!("node-{node_id}"));
        std::fs::create_dir_all(&node_dir).expect("create node dir");
        let http_addr = format!("127.0.0.1:{}", free_port());
        let raft_addr = format!("127.0.0.1:{}", free_port());
        let data_dir = node_dir.join("data");
        let config_path = node_dir.join("cairn.toml");
        let config = format!(
            "node_id = {node_id}\ndata_dir = {data_dir:?}\nlisten_http = {http_addr:?}\nlisten_raft = {raft_addr:?}\n{extra}\n[auth]\nadmin_token = {OPERATOR_TOKEN:?}\n"
        );
        std::fs::write(&config_path, config).expect("write node config");
        NodeProcess {
            node_id,
            http_addr,
            raft_addr,
            data_dir,
            config_path,
            ca_file: None,
            child: None,
            log_path: node_dir.join("node.log"),
        }
    }

    /// `https://…` when the node serves TLS (`ca_file` is set), else `http://…`.
    pub fn url(&self) -> String {
        let scheme = if self.ca_file.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.http_addr)
    }

    /// A client for this node, trusting its CA when it serves https.
    /// A client for this node under the operator's token (trusting the
    /// node's CA when it serves https).
    pub fn client(&self) -> cairn_client::Client {
        let client = operator_client(&self.url());
        match &self.ca_file {
            Some(ca_file) => client.with_ca_file(ca_file).expect("trust the node's CA"),
            None => client,
        }
    }

    /// Starts (or restarts) the process; its output goes to `node.log`.
    pub fn spawn(&mut self) {
        assert!(
            self.child.is_none(),
            "node {} is already running",
            self.node_id
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open node log");
        let child = Command::new(cairn_binary())
            .arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn cairn serve");
        self.child = Some(child);
    }

    /// Sends a signal by name (`STOP`, `CONT`, …) to the running process.
    pub fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("node is running");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} node {}", self.node_id);
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `kill -9`: no chance to flush or say goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the node");
            child.wait().expect("reap the node");
        }
    }

    /// Waits up to `within` for the node to exit (after a `signal`); answers
    /// whether it did, and reaps it if so.
    pub async fn wait_exit(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            match self.child.as_mut().map(std::process::Child::try_wait) {
                None | Some(Ok(Some(_))) => {
                    self.child = None;
                    return true;
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        false
    }

    /// Waits until `GET /ready` answers 200 and the node knows the
    /// operator's token, or panics with the node's log.
    pub async fn wait_ready(&mut self) {
        let client = self.client();
        let deadline = Instant::now() + Duration::from_millis(READY_TIMEOUT_MS);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "node {} exited with {status}:\n{}",
                    self.node_id,
                    self.log()
                );
            }
            if client.ready().await.is_ok() && client.whoami().await.is_ok() {
                return;
            }
            if Instant::now() > deadline {
                panic!("node {} not ready in time:\n{}", self.node_id, self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Runs the CLI against this node and returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
        let mut command = Command::new(cairn_binary());
        if let Some(ca_file) = &self.ca_file {
            command.env("CAIRN_CA_FILE", ca_file);
        }
        let mut child = command
            .args(args)
            .env("CAIRN_URL", self.url())
            .env("CAIRN_TOKEN", OPERATOR_TOKEN)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cairn cli");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("cli stdin");
            pipe.write_all(input).expect("write cli stdin");
        }
        let output = child.wait_with_output().expect("wait for cli");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // A stopped process still dies of SIGKILL.
        self.kill();
    }
}

/// A tmpfs mounted for a test (a small file system to fill); unmounted when
/// dropped, however the test ends.
pub struct TmpfsMount(PathBuf);

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Mounts a tmpfs of `mib` MiB at `dir` (made if missing). Mounting needs
/// root, as CI has; without it this says `SKIPPED` and why, and answers `None`.
pub fn mount_tmpfs(dir: &Path, mib: u64) -> Option<TmpfsMount> {
    std::fs::create_dir_all(dir).expect("create the mount point");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
        .arg(dir)
        .output()
        .expect("run mount");
    if !mounted.status.success() {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs (needs root): {}",
            String::from_utf8_lossy(&mounted.stderr).trim()
        );
        return None;
    }
    Some(TmpfsMount(dir.to_path_buf()))
}

/// Bytes free on the file system holding `dir`, as `df` says; `None` if `df`
/// prints no number.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let output = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .expect("run df");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .and_then(|line| line.trim().parse().ok())
}

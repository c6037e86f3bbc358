//! A throwaway MIT Kerberos realm on loopback for tests: a temporary directory with `krb5.conf`, `kdc.conf`, a
//! database, a keytab of service principals, and `krb5kdc -n` on a free port, killed on drop.
//!
//! Needs the Debian packages `krb5-kdc`, `krb5-admin-server` and `krb5-user` (`cargo xtask setup` installs them);
//! [`Realm::start`] panics (failing the test) with a message naming them when a tool is missing. Nothing here
//! depends on `pssession-auth`: callers parse the files with their own types.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The realm name.
pub const REALM: &str = "WINRM.TEST";
/// The password of `alice@WINRM.TEST`.
pub const PASSWORD: &str = "Passw0rd!";
/// The service principals written to [`Realm::keytab_path`].
pub const SERVICES: [&str; 3] = ["HTTP/localhost", "WSMAN/localhost", "host/localhost"];

/// A running realm: `alice` (password [`PASSWORD`]) and the [`SERVICES`] in `http.keytab`.
#[derive(Debug)]
pub struct Realm {
    dir: PathBuf,
    kdc: Child,
    port: u16,
}

/// A loopback port the kernel just had free, never the same twice in this process (tests run in parallel).
pub fn free_port() -> u16 {
    static USED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        if !used.contains(&port) {
            used.push(port);
            return port;
        }
    }
}

impl Realm {
    /// Creates the realm and starts its KDC; panics when the MIT tools are missing or the KDC does not listen.
    pub fn start() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        for tool in ["krb5kdc", "kdb5_util", "kadmin.local", "kinit"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .is_ok_and(|o| o.status.success()),
                "{tool} not found: install krb5-kdc, krb5-admin-server and krb5-user (cargo xtask setup)"
            );
        }
        let dir = std::env::temp_dir().join(format!(
            "pssession-krb5-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the realm directory");
        let port = free_port();
        let d = dir.display();
        std::fs::write(
            dir.join("krb5.conf"),
            format!(
                "[libdefaults]\n  default_realm = {REALM}\n  dns_lookup_realm = false\n  dns_lookup_kdc = false\n  \
                 dns_canonicalize_hostname = false\n  rdns = false\n  udp_preference_limit = 1\n  \
                 ticket_lifetime = 1h\n  default_ccache_name = FILE:{d}/ccache\n  \
                 default_keytab_name = FILE:{d}/http.keytab\n[realms]\n  {REALM} = {{\n    kdc = 127.0.0.1:{port}\n  }}\n\
                 [domain_realm]\n  localhost = {REALM}\n"
            ),
        )
        .expect("write krb5.conf");
        std::fs::write(
            dir.join("kdc.conf"),
            format!(
                "[kdcdefaults]\n  kdc_listen = 127.0.0.1:{port}\n  kdc_tcp_listen = 127.0.0.1:{port}\n[realms]\n  \
                 {REALM} = {{\n    database_name = {d}/principal\n    key_stash_file = {d}/stash\n    \
                 acl_file = {d}/kadm5.acl\n    max_life = 1h\n    default_principal_flags = +preauth\n    \
                 supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n  }}\n\
                 [logging]\n  kdc = FILE:{d}/kdc.log\n"
            ),
        )
        .expect("write kdc.conf");
        std::fs::write(dir.join("kadm5.acl"), format!("*/admin@{REALM} *\n")).expect("write kadm5.acl");
        admin(&dir, Command::new("kdb5_util").args(["create", "-s", "-r", REALM, "-P", "master-pw-not-secret"]));
        kadmin(&dir, &format!("addprinc -pw {PASSWORD} alice"));
        for service in SERVICES {
            kadmin(&dir, &format!("addprinc -randkey {service}"));
        }
        kadmin(&dir, &format!("ktadd -k {} {}", dir.join("http.keytab").display(), SERVICES.join(" ")));
        let kdc = Command::new("krb5kdc")
            .args(["-n", "-r", REALM])
            .env("KRB5_CONFIG", dir.join("krb5.conf"))
            .env("KRB5_KDC_PROFILE", dir.join("kdc.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("krb5kdc failed to start");
        let realm = Realm { dir, kdc, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the KDC did not listen on 127.0.0.1:{port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        realm
    }

    /// The realm's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The KDC's TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `krb5.conf` (default realm, the KDC, `localhost` in the realm, ccache and keytab names in the directory).
    pub fn krb5_conf_path(&self) -> PathBuf {
        self.dir.join("krb5.conf")
    }

    /// The text of `krb5.conf`.
    pub fn krb5_conf(&self) -> String {
        std::fs::read_to_string(self.krb5_conf_path()).expect("read krb5.conf")
    }

    /// The keytab with the keys of [`SERVICES`].
    pub fn keytab_path(&self) -> PathBuf {
        self.dir.join("http.keytab")
    }

    /// The credential cache `kinit` writes to, as a `FILE:` name.
    pub fn ccache(&self) -> String {
        format!("FILE:{}", self.dir.join("ccache").display())
    }

    /// Sets `KRB5_CONFIG` and `KRB5CCNAME` of a child process to this realm's.
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("KRB5_CONFIG", self.krb5_conf_path()).env("KRB5CCNAME", self.ccache());
    }

    /// Runs a `kadmin.local` query (`addprinc -pw … bob`); panics when it fails.
    pub fn kadmin(&self, query: &str) {
        kadmin(&self.dir, query);
    }

    /// `kinit alice@WINRM.TEST` into [`Realm::ccache`]; panics when it fails.
    pub fn kinit(&self) {
        self.kinit_as(&format!("alice@{REALM}"), PASSWORD);
    }

    /// `kinit principal` with `password` into [`Realm::ccache`]; panics when it fails.
    pub fn kinit_as(&self, principal: &str, password: &str) {
        self.kinit_into(&self.ccache(), principal, password);
    }

    /// `kinit -c cache principal` with `password` (any cache type MIT supports, `DIR:/path` say); panics when it
    /// fails.
    pub fn kinit_into(&self, cache: &str, principal: &str, password: &str) {
        let mut cmd = Command::new("kinit");
        self.env(&mut cmd);
        let mut child = cmd
            .args(["-c", cache])
            .arg(principal)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("run kinit");
        child.stdin.take().expect("kinit stdin").write_all(format!("{password}\n").as_bytes()).expect("password");
        assert!(child.wait().expect("kinit").success(), "kinit {principal} failed");
    }
}

impl Drop for Realm {
    fn drop(&mut self) {
        let _ = self.kdc.kill();
        let _ = self.kdc.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn admin(dir: &Path, cmd: &mut Command) {
    let out = cmd
        .env("KRB5_CONFIG", dir.join("krb5.conf"))
        .env("KRB5_KDC_PROFILE", dir.join("kdc.conf"))
        .output()
        .expect("run an MIT admin tool");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn kadmin(dir: &Path, query: &str) {
    admin(dir, Command::new("kadmin.local").args(["-r", REALM, "-q", query]));
}

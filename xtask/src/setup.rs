//! Installing what the tests need on a fresh machine: Debian packages, the pinned Python peers, cargo-fuzz.
//! Every step is idempotent and checks before it installs, so a warm machine pays almost nothing.

use std::path::PathBuf;
use std::process::Command;

use crate::{Result, cargo, root, run};

/// Environment variable through which tests find the Python interpreter (see `pssession-testkit`).
pub const PYTHON_ENV: &str = "PSSESSION_PYTHON";

/// Debian packages the tests use, with the command that proves each is installed.
const APT_PACKAGES: &[(&str, &str)] = &[
    // The throwaway MIT realm of crates/auth/tests/kerberos.rs: KDC, database tools, kinit.
    ("krb5-kdc", "command -v krb5kdc"),
    ("krb5-admin-server", "command -v kadmin.local"),
    ("krb5-user", "command -v kinit"),
    // MIT's GSS-API sample peers (gss-server, gss-client) for interoperability tests of the Kerberos mechanism.
    ("krb5-gss-samples", "command -v gss-server"),
    // Headers and krb5-config for building python-gssapi and pykrb5 (requirements-test.txt), which pypsrp's
    // auth="kerberos" needs (crates/cli/tests/kerberos.rs).
    ("libkrb5-dev", "command -v krb5-config"),
    // Dell's WS-Management command line (curl underneath), a third-party client of crates/server/tests/wsl_identify.rs;
    // uuid-runtime gives it the uuidgen it calls for message ids.
    ("wsl", "command -v wsl"),
    // wsl talks HTTP through curl unless told to use wget; its Debian package only recommends curl.
    ("curl", "command -v curl"),
    ("uuid-runtime", "command -v uuidgen"),
];

/// cargo-fuzz, pinned so that CI does not change under us.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

pub fn all() -> Result {
    apt_packages()?;
    python_venv()?;
    cargo_fuzz()
}

pub fn venv_python() -> PathBuf {
    root().join(".venv/bin/python")
}

fn apt_packages() -> Result {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, probe)| !Command::new("sh").args(["-c", probe]).status().is_ok_and(|s| s.success()))
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(Command::new("apt-get").arg("update"))?;
    // krb5-config asks for a default realm through debconf; the tests bring their own realm.
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing))
}

/// Creates `.venv` and installs `requirements-test.txt` (exact pins) when they changed.
pub fn python_venv() -> Result {
    let requirements = root().join("requirements-test.txt");
    let wanted = std::fs::read_to_string(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let stamp = root().join(".venv/installed-requirements.txt");
    if venv_python().exists() && std::fs::read_to_string(&stamp).is_ok_and(|have| have == wanted) {
        return Ok(());
    }
    if !venv_python().exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(root().join(".venv")))?;
    }
    run(Command::new(venv_python())
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))
}

fn cargo_fuzz() -> Result {
    let installed = Command::new("cargo-fuzz")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_FUZZ_VERSION));
    if installed {
        return Ok(());
    }
    run(cargo().args(["install", "cargo-fuzz", "--locked", "--version", CARGO_FUZZ_VERSION]))
}

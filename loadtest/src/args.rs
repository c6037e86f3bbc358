//! A tiny `--name value` / `--flag` argument reader (the children are started by `run`, never typed by hand).

use std::str::FromStr;

/// Parsed arguments: positionals in order, options by name.
pub struct Args {
    positionals: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

/// Options that take no value.
const FLAGS: &[&str] = &["--quick"];

impl Args {
    pub fn parse(argv: &[String]) -> Result<Self, String> {
        let mut positionals = Vec::new();
        let mut options = Vec::new();
        let mut iter = argv.iter();
        while let Some(arg) = iter.next() {
            if let Some(stripped) = arg.strip_prefix("--") {
                if FLAGS.contains(&arg.as_str()) {
                    options.push((stripped.to_owned(), None));
                } else {
                    let value = iter.next().ok_or_else(|| format!("{arg} needs a value"))?;
                    options.push((stripped.to_owned(), Some(value.clone())));
                }
            } else {
                positionals.push(arg.clone());
            }
        }
        Ok(Args { positionals, options })
    }

    pub fn positional(&self, index: usize, what: &str) -> Result<&str, String> {
        self.positionals.get(index).map(String::as_str).ok_or_else(|| format!("missing {what}"))
    }

    pub fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        self.options.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }

    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.string(name).ok_or_else(|| format!("missing --{name}"))
    }

    pub fn number<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.string(name) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| format!("--{name}: not a number: {text:?}")),
        }
    }

    /// A comma-separated list.
    pub fn list(&self, name: &str) -> Result<Vec<String>, String> {
        Ok(self.required(name)?.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
    }
}

/// The credentials every process of one run shares.
pub fn credentials() -> Result<(String, String), String> {
    let user = std::env::var("PSSESSION_LOAD_USER").map_err(|_| "PSSESSION_LOAD_USER is not set".to_owned())?;
    let password =
        std::env::var("PSSESSION_LOAD_PASSWORD").map_err(|_| "PSSESSION_LOAD_PASSWORD is not set".to_owned())?;
    Ok((user, password))
}

/// A current-thread tokio runtime (the HTTP transport runs a thread of its own per client anyway).
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("runtime: {e}"))
}

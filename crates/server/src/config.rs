//! Settings from flags and environment, parsed into types once.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// `sqlite://PATH`, `sqlite:PATH` or a bare file path.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            bail!("PostgreSQL is not supported by this build yet; use sqlite://PATH");
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        if path.is_empty() || path == ":memory:" {
            bail!("the database URL needs a file path, such as sqlite://loyalty.db (got {raw:?})");
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    pub fn sqlite_path(&self) -> &PathBuf {
        match self {
            Self::Sqlite(path) => path,
        }
    }
}

/// What `loyalty serve` needs.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub database: DatabaseUrl,
    /// `LOYALTY_ADMIN_TOKEN`: enables `POST /v1/businesses`.
    pub admin_token: Option<String>,
    /// How often the sweeper expires lots, releases pending points and reviews tiers; `None`
    /// leaves that to `loyalty expire`.
    pub sweep_interval: Option<std::time::Duration>,
    /// The event bus and handler retries.
    pub delivery: crate::delivery::DeliveryOptions,
    /// How long a payment that found no member can be claimed.
    pub claim_window_days: u32,
}

/// Parse a listen address such as `127.0.0.1:8080` or `0.0.0.0:80`.
pub fn parse_listen(raw: &str) -> anyhow::Result<SocketAddr> {
    raw.trim()
        .parse()
        .with_context(|| format!("--listen must be an address like 127.0.0.1:8080 (got {raw:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/l.db").ok(),
            Some(DatabaseUrl::Sqlite(PathBuf::from("data/l.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("l.db").ok(),
            Some(DatabaseUrl::Sqlite(PathBuf::from("l.db")))
        );
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
        assert!(DatabaseUrl::parse("postgres://localhost/x").is_err());
    }
}

//! Settings from flags and environment, parsed into types once.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// A PostgreSQL URL, as given.
    Postgres(String),
}

impl DatabaseUrl {
    /// `sqlite://PATH`, `sqlite:PATH`, a bare file path, or `postgres://USER@HOST:PORT/DB`.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            if let Err(e) = raw.parse::<loyalty_store::PgConfig>() {
                bail!("the PostgreSQL URL is not valid: {e}");
            }
            return Ok(Self::Postgres(raw.to_owned()));
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

    /// The store's settings for this database.
    pub fn store_settings(&self) -> loyalty_store::StoreSettings {
        match self {
            Self::Sqlite(path) => loyalty_store::StoreSettings::new(path),
            Self::Postgres(url) => loyalty_store::StoreSettings::postgres(url),
        }
    }

    /// Where the data lives, for messages (a PostgreSQL URL without its password).
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => loyalty_store::describe(&loyalty_store::Backend::Postgres(url.clone())),
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
        assert_eq!(
            DatabaseUrl::parse("postgres://postgres@localhost/x").ok(),
            Some(DatabaseUrl::Postgres("postgres://postgres@localhost/x".to_owned()))
        );
        assert!(DatabaseUrl::parse("postgres://localhost:notaport/x").is_err());
    }
}

//! Connecting to PostgreSQL.

use std::time::Duration;

use crate::db::PgConn;
use crate::StoreError;

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT_SECS: u64 = 10;

/// A connection with this store's session settings. `url` is a libpq-style URL; a schema other
/// than `public` is chosen with `options=-c search_path=NAME` in it.
pub(crate) fn connect(url: &str) -> Result<PgConn, StoreError> {
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Config(format!("not a PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(CONNECT_TIMEOUT_SECS));
    }
    config.application_name("loyalty");
    let client = config.connect(postgres::NoTls)?;
    Ok(PgConn::new(client))
}

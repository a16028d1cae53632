//! The notification port: how the product tells a member something (a welcome message). Today's
//! adapter records each notification in the database, in the transaction of what caused it (so
//! it is sent exactly once), and logs it; webhooks and e-mail adapters plug in here.

use loyalty_store::{StoreError, WriteTx};
use uuid::Uuid;

/// A message for a member.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub business_id: Uuid,
    pub account_id: Uuid,
    /// `WELCOME`, ...
    pub kind: &'static str,
    pub body: serde_json::Value,
    /// The event that caused it.
    pub caused_by: Uuid,
}

/// Sends notifications, inside the writer transaction of their cause.
pub trait NotificationPort: Send + Sync + 'static {
    fn send(&self, tx: &mut WriteTx<'_>, notification: &Notification) -> Result<(), StoreError>;
}

/// Records notifications in the `notifications` table and logs them.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordingNotifier;

impl NotificationPort for RecordingNotifier {
    fn send(&self, tx: &mut WriteTx<'_>, notification: &Notification) -> Result<(), StoreError> {
        tx.record_notification(
            notification.business_id,
            notification.account_id,
            notification.kind,
            &notification.body,
            notification.caused_by,
        )?;
        tracing::debug!(
            account_id = %notification.account_id,
            kind = notification.kind,
            "notification recorded"
        );
        Ok(())
    }
}

//! What an ENDED program still allows: reads, refunds and expiry. Every other change to its
//! accounts (suspending, reactivating, using an issued reward; earning and redeeming have their
//! own rules) is refused.

use super::AccountError;
use crate::program::ProgramStatus;

/// Refuse a change to an account of an ENDED program.
pub(super) fn require_open(status: ProgramStatus) -> Result<(), AccountError> {
    if status == ProgramStatus::Ended {
        Err(AccountError::ProgramNotActive { status })
    } else {
        Ok(())
    }
}

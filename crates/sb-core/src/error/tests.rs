//! Store errors become the statuses PocketBase answers.

use sb_store::{ErrorKind, StoreError};

use super::CoreError;

#[test]
fn store_errors_map_to_statuses() {
    let status = |kind| CoreError::from(StoreError::new(kind, "driver text")).status();
    assert_eq!(status(ErrorKind::Unavailable), 503);
    assert_eq!(status(ErrorKind::Busy), 503);
    assert_eq!(status(ErrorKind::Timeout), 400);
    assert_eq!(status(ErrorKind::Other), 500);
    let timeout = CoreError::from(StoreError::new(ErrorKind::Timeout, "driver text"));
    assert_eq!(timeout.to_string(), "Something went wrong while processing your request.");
}

//! What several transport test files share.

use pssession_wsman::transport::{AuthStepError, ConnectionInfo, HttpAuthenticator, MessageEncryption};

/// No authentication at all.
pub struct Anonymous;

impl HttpAuthenticator for Anonymous {
    fn scheme(&self) -> &str {
        "None"
    }
    fn start(&mut self, _: &ConnectionInfo) -> Result<Option<String>, AuthStepError> {
        Ok(None)
    }
    fn challenge(&mut self, _: u16, _: &[String]) -> Result<Option<String>, AuthStepError> {
        Ok(None)
    }
    fn authorization(&mut self) -> Result<Option<String>, AuthStepError> {
        Ok(None)
    }
    fn is_established(&self) -> bool {
        true
    }
    fn encryption(&mut self) -> Option<&mut dyn MessageEncryption> {
        None
    }
}

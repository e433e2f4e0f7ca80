//! Credentials as the transports resolve them. [`Remembered`] wraps the AWS credential
//! chain so that every value it resolves (a profile's keys, an SSO or web-identity
//! session, a container role's) is handed to [`crate::secrets`] the moment it exists:
//! a 401 that echoes a session token from a credentials file is redacted like one from
//! the environment.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

/// The chain, remembering what it hands out.
#[derive(Debug)]
pub(crate) struct Remembered(pub(crate) SharedCredentialsProvider);

impl ProvideCredentials for Remembered {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let credentials = self.0.provide_credentials().await?;
            crate::secrets::add("AWS_ACCESS_KEY_ID", credentials.access_key_id());
            crate::secrets::add("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key());
            if let Some(token) = credentials.session_token() {
                crate::secrets::add("AWS_SESSION_TOKEN", token);
            }
            Ok(credentials)
        })
    }
}

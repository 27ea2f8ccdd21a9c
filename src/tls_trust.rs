//! Which certificate authorities a client of central (the station's sync worker, `takt trace`,
//! `takt kpi`) trusts for `https://` URLs.
//!
//! reqwest's `rustls` feature verifies through rustls-platform-verifier: on Linux the system's CA
//! store (`/etc/ssl/certs`, or `SSL_CERT_FILE`), read when a client is built. A plant CA named in
//! `[central] ca_file` (or `--ca-file`) is trusted **in addition** to those roots, so a central
//! with a certificate from a public CA keeps working too. On a machine without a system CA store
//! the plant CA is then the only root.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The PEM CA certificates of a `ca_file`, read and checked ([`TrustedCa::load`]).
#[derive(Clone)]
pub struct TrustedCa {
    path: PathBuf,
    certs: Vec<reqwest::Certificate>,
}

impl fmt::Debug for TrustedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedCa")
            .field("path", &self.path)
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl TrustedCa {
    /// Reads one or more PEM certificates (`-----BEGIN CERTIFICATE-----`). Every problem names the
    /// file.
    pub fn load(path: &Path) -> Result<TrustedCa, String> {
        let pem = std::fs::read(path)
            .map_err(|error| format!("cannot read the CA file {}: {error}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
            format!(
                "CA file {}: not PEM certificates ({})",
                path.display(),
                causes(&error)
            )
        })?;
        if certs.is_empty() {
            return Err(format!(
                "CA file {}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        let ca = TrustedCa {
            path: path.to_owned(),
            certs,
        };
        // The roots are parsed when a client is built: a broken certificate shows here, naming
        // the file, rather than at the first request.
        client_builder(Some(&ca), Duration::from_secs(1))
            .build()
            .map_err(|error| format!("CA file {}: {}", path.display(), causes(&error)))?;
        Ok(ca)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A client builder with `timeout` for connecting and for the whole answer, trusting `ca` besides
/// the system's roots.
pub fn client_builder(ca: Option<&TrustedCa>, timeout: Duration) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout);
    match ca {
        Some(ca) => builder.tls_certs_merge(ca.certs.iter().cloned()),
        None => builder,
    }
}

/// What a TLS failure means for the operator, when `text` (a request error's causes) is one.
pub fn hint(text: &str) -> Option<&'static str> {
    if text.contains("UnknownIssuer") || text.contains("unknown issuer") {
        Some(
            "central's certificate is not signed by a CA this side trusts: \
             name the plant CA in [central] ca_file (or --ca-file)",
        )
    } else if text.contains("NotValidForName") || text.contains("not valid for name") {
        Some("central's certificate is not made out for the host name in the URL")
    } else if text.contains("Expired") {
        Some("central's certificate has expired (or this clock is wrong)")
    } else if text.contains("invalid peer certificate") {
        Some("central's certificate was not accepted")
    } else if text.contains("invalid HTTP version parsed") {
        Some("central did not answer in HTTP: if it serves HTTPS, the url must say https://")
    } else {
        None
    }
}

/// An error and its causes, each once: "builder error: invalid certificate".
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

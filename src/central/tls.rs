//! HTTPS for central: rustls (with the aws-lc-rs provider reqwest already brings; no OpenSSL) from
//! a PEM certificate chain and private key.
//!
//! axum's `serve` speaks plain TCP, so TLS sits in a [`Listener`]: a background task accepts TCP
//! connections and does each handshake on its own task, under a timeout, and only finished TLS
//! streams reach axum. A client that fails its handshake (plain HTTP, an untrusting station, a
//! port scanner) is logged and dropped; nothing else notices.

use anyhow::Context;
use axum::serve::Listener;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// A handshake not finished within this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; further connections wait to be accepted.
const MAX_HANDSHAKES: usize = 256;

/// Central's certificate and key, loaded and checked ([`TlsSettings::load`]).
#[derive(Clone)]
pub struct TlsSettings {
    config: Arc<rustls::ServerConfig>,
    cert_path: PathBuf,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl TlsSettings {
    /// Reads a PEM certificate chain (the server's certificate first, then any intermediates) and
    /// its PEM private key (PKCS#8, PKCS#1 or SEC1). Every problem names the file.
    pub fn load(cert_path: &Path, key_path: &Path) -> anyhow::Result<TlsSettings> {
        let cert_pem = std::fs::read(cert_path)
            .with_context(|| format!("cannot read the TLS certificate {}", cert_path.display()))?;
        let certs = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| {
                anyhow::anyhow!(
                    "TLS certificate {}: not valid PEM ({error})",
                    cert_path.display()
                )
            })?;
        anyhow::ensure!(
            !certs.is_empty(),
            "TLS certificate {}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)",
            cert_path.display()
        );
        let key_pem = std::fs::read(key_path)
            .with_context(|| format!("cannot read the TLS key {}", key_path.display()))?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| match error {
            pem::Error::NoItemsFound => anyhow::anyhow!(
                "TLS key {}: no PEM private key in it (expected -----BEGIN PRIVATE KEY-----, \
                 RSA PRIVATE KEY or EC PRIVATE KEY)",
                key_path.display()
            ),
            error => anyhow::anyhow!("TLS key {}: not valid PEM ({error})", key_path.display()),
        })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|error| match error {
                rustls::Error::InconsistentKeys(_) => anyhow::anyhow!(
                    "TLS key {} is not the key of the certificate {} ({error})",
                    key_path.display(),
                    cert_path.display()
                ),
                error => anyhow::anyhow!(
                    "TLS certificate {} with key {}: {error}",
                    cert_path.display(),
                    key_path.display()
                ),
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsSettings {
            config: Arc::new(config),
            cert_path: cert_path.to_owned(),
        })
    }
}

/// A [`Listener`] that hands axum finished TLS connections.
pub(crate) struct TlsListener {
    local_addr: SocketAddr,
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    task: JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(listener: TcpListener, settings: &TlsSettings) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (sender, accepted) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(Arc::clone(&settings.config));
        let task = tokio::spawn(accept_loop(listener, acceptor, sender));
        Ok(TlsListener {
            local_addr,
            accepted,
            task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // axum drops the listener when it shuts down: stop accepting with it.
        self.task.abort();
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The accept loop never ends on its own (it runs until this listener drops it).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    sender: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = Arc::clone(&handshakes).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // As axum does: per-connection errors are the peer's; others (too many open
                // files) get a pause so the loop does not spin.
                if !is_connection_error(&error) {
                    tracing::error!(%error, "central: accepting a connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = sender.send((tls, peer)).await;
                }
                Ok(Err(error)) => {
                    tracing::warn!(%peer, %error, "central: TLS handshake failed");
                }
                Err(_) => {
                    tracing::warn!(%peer, timeout = ?HANDSHAKE_TIMEOUT, "central: TLS handshake timed out");
                }
            }
        });
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

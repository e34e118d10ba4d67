//! TLS termination: a rustls server configuration from PEM files, with certificates chosen by
//! server name (SNI) and a default one; ALPN offers HTTP/2 and HTTP/1.1. A listener's
//! [`Certificates`] are swapped in place on reload (renewed certificates need no restart).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use parking_lot::RwLock;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

use crate::config::TlsConfig;

pub use tokio_rustls::TlsAcceptor;

fn certified_key(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid certificate PEM in {}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the private key {}", key.display()))?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .context("the private key is of a kind rustls cannot use")?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().context("the private key does not match the certificate")?;
    Ok(Arc::new(certified))
}

/// Picks the certificate for the name the client asked for.
#[derive(Debug)]
struct BySni {
    default: Arc<CertifiedKey>,
    named: HashMap<String, Arc<CertifiedKey>>,
}

impl BySni {
    fn load(config: &TlsConfig) -> anyhow::Result<BySni> {
        let default = certified_key(&config.cert, &config.key)?;
        let mut named = HashMap::new();
        for sni in &config.sni {
            named.insert(sni.host.to_ascii_lowercase(), certified_key(&sni.cert, &sni.key)?);
        }
        Ok(BySni { default, named })
    }

    fn resolve(&self, hello: &ClientHello<'_>) -> Arc<CertifiedKey> {
        let named = hello.server_name().and_then(|name| self.named.get(&name.to_ascii_lowercase()));
        named.unwrap_or(&self.default).clone()
    }
}

/// The certificates of a TLS listener. A reload swaps them whole: handshakes that already
/// picked a certificate keep it, the next ones get the new set, and no connection is dropped.
#[derive(Debug)]
pub struct Certificates {
    current: RwLock<Arc<BySni>>,
}

/// Certificates read and checked, ready to be installed.
pub struct Staged(Arc<BySni>);

impl Certificates {
    pub fn load(config: &TlsConfig) -> anyhow::Result<Arc<Certificates>> {
        Ok(Arc::new(Certificates { current: RwLock::new(Certificates::stage(config)?.0) }))
    }

    /// Reads and checks the files of `config` without installing them (so that a reload can
    /// check everything before it changes anything).
    pub fn stage(config: &TlsConfig) -> anyhow::Result<Staged> {
        Ok(Staged(Arc::new(BySni::load(config)?)))
    }

    pub fn install(&self, staged: Staged) {
        *self.current.write() = staged.0;
    }

    /// The acceptor of a listener serving these certificates, with ALPN offering HTTP/2 and
    /// HTTP/1.1.
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(server)))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().resolve(&hello))
    }
}

/// The acceptor of a TLS listener whose certificates are never reloaded.
pub fn acceptor(config: &TlsConfig) -> anyhow::Result<TlsAcceptor> {
    Certificates::load(config)?.acceptor()
}

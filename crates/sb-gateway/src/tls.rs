//! TLS termination: a rustls server configuration from PEM files, with certificates chosen by
//! server name (SNI) and a default one; ALPN offers HTTP/2 and HTTP/1.1.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
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

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let named = hello.server_name().and_then(|name| self.named.get(&name.to_ascii_lowercase()));
        Some(named.unwrap_or(&self.default).clone())
    }
}

/// The acceptor of a TLS listener.
pub fn acceptor(config: &TlsConfig) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let default = certified_key(&config.cert, &config.key)?;
    let mut named = HashMap::new();
    for sni in &config.sni {
        named.insert(sni.host.to_ascii_lowercase(), certified_key(&sni.cert, &sni.key)?);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni { default, named }));
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}

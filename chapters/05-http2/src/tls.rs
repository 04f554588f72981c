//! TLS for the `https://` listener, with ALPN.
//!
//! Browsers speak HTTP/2 only over TLS: the protocol is agreed inside
//! the TLS handshake, by ALPN (RFC 7301). The client lists what it
//! speaks (`h2`, `http/1.1`); the server picks one (RFC 9113 §3.2).
//! No extra round trip, and no `Upgrade` header.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

/// A certificate chain and its private key, ready to serve.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// A new self-signed certificate for `127.0.0.1` and `localhost`.
    /// Browsers warn about it (no authority vouches for it); that is
    /// fine on your own machine, and `--cert`/`--key` load a real one.
    pub fn self_signed() -> Identity {
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let made = rcgen::generate_simple_self_signed(names)
            .expect("rcgen makes a certificate for valid names");
        let key = PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
        Identity {
            chain: vec![made.cert.der().clone()],
            key,
        }
    }

    /// Loads a PEM certificate chain and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity, String> {
        let chain: Result<Vec<_>, _> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("cannot read {}: {e}", cert.display()))?
            .collect();
        let chain =
            chain.map_err(|e| format!("bad PEM in {}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("no certificate in {}", cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("no private key in {}: {e}", key.display()))?;
        Ok(Identity { chain, key })
    }

    /// The SHA-256 fingerprint of the certificate, as browsers show it:
    /// the bytes in hex, separated by colons.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.chain[0].as_ref());
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    // ANCHOR: acceptor
    /// A TLS acceptor that offers HTTP/2 first, then HTTP/1.1.
    pub fn acceptor(self) -> Result<TlsAcceptor, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(self.chain, self.key)
            .map_err(|e| format!("the certificate or key is not usable: {e}"))?;
        // ALPN: the server takes the first of its own protocols that
        // the client also offers. A client that offers no ALPN gets
        // HTTP/1.1: HTTP/2 over TLS needs "h2" (RFC 9113 §3.2).
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
    // ANCHOR_END: acceptor
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--cert` and `--key` read what `openssl` or rcgen write: PEM.
    #[test]
    fn loads_a_pem_certificate_and_key() {
        let names = vec!["127.0.0.1".to_owned()];
        let made = rcgen::generate_simple_self_signed(names).unwrap();
        let dir =
            std::env::temp_dir().join(format!("ch05-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
        let loaded = Identity::from_pem_files(&cert, &key).unwrap();
        assert_eq!(loaded.chain[0], *made.cert.der());
        assert!(loaded.acceptor().is_ok());
        // A key file with no key in it is refused, with the file's name.
        let why = Identity::from_pem_files(&cert, &cert).err().unwrap();
        assert!(why.contains("cert.pem"), "{why}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

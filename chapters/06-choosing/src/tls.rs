//! TLS for the "SSE over h2 (TLS)" row: chapter 5's `https://`
//! listener, and a client that speaks HTTP/2 to it, as a browser does.
//!
//! The tap sits below TLS, on the TCP connection, so the bytes it
//! counts are TLS records: each is a 5-byte header, the encrypted
//! bytes, one byte of inner content type and a 16-byte tag (RFC 8446
//! §5.2).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Chapter 5's acceptor, with a new self-signed certificate.
pub fn acceptor() -> TlsAcceptor {
    let identity = ch05_http2::tls::Identity::self_signed();
    identity
        .acceptor()
        .expect("a self-signed identity is usable")
}

/// A TLS 1.3 connection to `addr` that asks for HTTP/2 by ALPN.
pub async fn connect(addr: SocketAddr) -> io::Result<TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(OwnChild(provider.clone()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // A browser offers both; the server picks h2 (RFC 9113 §3.2).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::IpAddress(addr.ip().into());
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
        return Err(io::Error::other("the server did not choose h2"));
    }
    Ok(tls)
}

/// An HTTP/2 connection over [`connect`]: the request half.
pub async fn h2(addr: SocketAddr) -> io::Result<h2::client::SendRequest<Bytes>> {
    let tls = connect(addr).await?;
    let (send, connection) =
        h2::client::handshake(tls).await.map_err(io::Error::other)?;
    tokio::spawn(connection);
    Ok(send)
}

/// Accepts the certificate that the harness's own server made a moment
/// ago, on 127.0.0.1: no authority signed it, and the harness trusts
/// it for what it is. The handshake's signatures are still checked,
/// so the bytes are those of a real TLS 1.3 handshake.
#[derive(Debug)]
struct OwnChild(Arc<CryptoProvider>);

impl ServerCertVerifier for OwnChild {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

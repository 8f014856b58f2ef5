//! TLS server configs (tokio-rustls with the ring provider): certificates
//! read from PEM files, or a self-signed one generated on first start and
//! kept in data_dir so that clients can pin it. Every listener asks for a
//! client certificate without requiring one ([`AnyClientCert`]): its
//! SHA-256 fingerprint is what NickServ CERT ADD registers and SASL EXTERNAL
//! checks, so no CA is involved, only proof of the key.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, anyhow};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::rustls::{self, ServerConfig};

use crate::config::{Config, ListenTls, TlsFiles};

/// Where the generated certificate lives.
pub fn self_signed_paths(data_dir: &Path) -> TlsFiles {
    TlsFiles {
        cert: data_dir.join("tls-cert.pem"),
        key: data_dir.join("tls-key.pem"),
    }
}

/// Generates a self-signed certificate for `name` unless one is there.
pub fn ensure_self_signed(data_dir: &Path, name: &str) -> anyhow::Result<TlsFiles> {
    let files = self_signed_paths(data_dir);
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data_dir {}", data_dir.display()))?;
    let ck = rcgen::generate_simple_self_signed(vec![name.to_string(), "localhost".to_string()])
        .context("generating a self-signed certificate")?;
    write_private(&files.key, ck.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&files.cert, ck.cert.pem())
        .with_context(|| format!("writing {}", files.cert.display()))?;
    tracing::info!(cert = %files.cert.display(), "generated a self-signed TLS certificate");
    Ok(files)
}

fn write_private(path: &PathBuf, data: &[u8]) -> anyhow::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data)?;
    Ok(())
}

/// Builds a rustls server config from PEM files; `client_certs`: ask for an
/// optional client certificate (IRC listeners; not WebSocket ones, where a
/// browser would show a certificate picker).
pub fn load(files: &TlsFiles, client_certs: bool) -> anyhow::Result<Arc<ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("reading {}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(anyhow!("{}: no certificate found", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("reading key {}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if client_certs {
        builder.with_client_cert_verifier(Arc::new(AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
        }))
    } else {
        builder.with_no_client_auth()
    };
    let config = builder
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    Ok(Arc::new(config))
}

/// The TLS config of each listener (None for plaintext), in listener order.
pub fn for_listeners(config: &Config) -> anyhow::Result<Vec<Option<Arc<ServerConfig>>>> {
    // The default certificate's two configs (with and without client certs).
    let mut default: [Option<Arc<ServerConfig>>; 2] = [None, None];
    let mut out = Vec::new();
    for l in &config.listen {
        let client_certs = !l.websocket;
        out.push(match &l.tls {
            ListenTls::Off => None,
            ListenTls::Files(f) => Some(load(f, client_certs)?),
            ListenTls::Default => {
                let slot = &mut default[usize::from(client_certs)];
                if slot.is_none() {
                    let files = match &config.tls {
                        Some(f) => f.clone(),
                        None => ensure_self_signed(&config.server.data_dir, &config.server.name)?,
                    };
                    *slot = Some(load(&files, client_certs)?);
                }
                slot.clone()
            }
        });
    }
    Ok(out)
}

/// Offers client authentication, accepts any certificate (self-signed ones
/// are the point: users make their own) and still checks the handshake
/// signature, so a client proves it holds the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The SHA-256 fingerprint of a DER certificate, lowercase hex (what
/// `openssl x509 -fingerprint -sha256` prints, without the colons).
pub fn fingerprint(cert: &[u8]) -> String {
    use std::fmt::Write;
    let digest = ring::digest::digest(&ring::digest::SHA256, cert);
    digest.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

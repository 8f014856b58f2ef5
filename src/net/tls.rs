//! TLS server configs (tokio-rustls with the ring provider): certificates
//! read from PEM files, or a self-signed one generated on first start and
//! kept in data_dir so that clients can pin it.

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

/// Builds a rustls server config from PEM files.
pub fn load(files: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
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
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    Ok(Arc::new(config))
}

/// The TLS config of each listener (None for plaintext), in listener order.
pub fn for_listeners(config: &Config) -> anyhow::Result<Vec<Option<Arc<ServerConfig>>>> {
    let mut default: Option<Arc<ServerConfig>> = None;
    let mut out = Vec::new();
    for l in &config.listen {
        out.push(match &l.tls {
            ListenTls::Off => None,
            ListenTls::Files(f) => Some(load(f)?),
            ListenTls::Default => {
                if default.is_none() {
                    let files = match &config.tls {
                        Some(f) => f.clone(),
                        None => ensure_self_signed(&config.server.data_dir, &config.server.name)?,
                    };
                    default = Some(load(&files)?);
                }
                default.clone()
            }
        });
    }
    Ok(out)
}

//! PKCS12 key and trust stores (what `keytool` and `openssl pkcs12` write) turned into the PEM
//! the TLS layer reads. Errors never contain the store's password or key material.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12Archive, Pkcs12ImportPolicy};

/// What a PKCS12 file holds, as PEM.
pub(super) struct Pkcs12Pem {
    /// Certificates not paired with a key: Java's trusted entries, and the CA certificates
    /// `openssl pkcs12 -export -nokeys` writes without Java's trust attribute.
    pub(super) trusted: String,
    /// The private key (PKCS#8) and its chain, when the store has exactly one key entry.
    pub(super) key_and_chain: Option<(String, String)>,
}

/// Opens a PKCS12 store with its password.
pub(super) fn read_pkcs12(bytes: &[u8], password: &str) -> Result<Pkcs12Pem, String> {
    let open_error = |e: p12_keystore::error::Error| {
        format!("cannot open the PKCS12 store (wrong password or not a PKCS12 file): {e}")
    };
    let archive = Pkcs12Archive::from_pkcs12(bytes, password).map_err(open_error)?;
    let trusted: String = archive
        .certs
        .iter()
        .filter(|bag| bag.local_key_id.is_none())
        .map(|bag| pem("CERTIFICATE", bag.cert.as_der()))
        .collect();
    let store =
        KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed).map_err(open_error)?;
    let keys: Vec<_> = store
        .entries()
        .filter_map(|(alias, entry)| match entry {
            KeyStoreEntry::PrivateKeyChain(chain) => Some((alias.clone(), chain)),
            _ => None,
        })
        .collect();
    let key_and_chain = match keys.as_slice() {
        [] => None,
        [(_, chain)] => {
            let key = pem("PRIVATE KEY", chain.key().as_der());
            let certs: String = chain
                .certs()
                .iter()
                .map(|c| pem("CERTIFICATE", c.as_der()))
                .collect();
            Some((key, certs))
        }
        several => {
            let aliases: Vec<&str> = several.iter().map(|(a, _)| a.as_str()).collect();
            return Err(format!(
                "the PKCS12 store holds {} private keys (aliases {}); strait needs a store with one",
                several.len(),
                aliases.join(", ")
            ));
        }
    };
    Ok(Pkcs12Pem {
        trusted,
        key_and_chain,
    })
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

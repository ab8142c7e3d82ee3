//! The key of secret digests.
//!
//! A reviewer must see *that* a secret changed without anyone learning its value from the
//! digest. A salt that is published (the lineage is in plan JSON) does not stop a dictionary
//! attack on a weak value; a random 256-bit key that never leaves the state's secret storage
//! does. Digests are HMAC-SHA256 under that key, cut to 128 bits.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Bytes of key material.
pub const KEY_BYTES: usize = 32;
/// Bytes of a secret value digest (128 bits).
pub const DIGEST_BYTES: usize = 16;

/// A per-state random key. Deliberately without `Display` and `Serialize`, and with a `Debug`
/// that prints nothing of it, so it cannot end up in output by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestKey([u8; KEY_BYTES]);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey(..)")
    }
}

impl DigestKey {
    /// A fresh key from the operating system's random source (via the thread-local CSPRNG).
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        DigestKey(bytes)
    }

    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        DigestKey(bytes)
    }

    /// The storage form: 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(DigestKey(bytes.try_into().ok()?))
    }

    fn mac(&self, domain: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(domain);
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// The digest shown for one secret value (`key` is the secret's key name): 128 bits, hex.
    pub fn value_digest(&self, key: &str, value: &[u8]) -> String {
        let tag = self
            .mac(b"todoplan-secret-value\0", &[key.as_bytes(), value])
            .finalize()
            .into_bytes();
        hex::encode(&tag[..DIGEST_BYTES])
    }

    /// A full 256-bit keyed digest of any bytes that may hold secret values (an applied
    /// manifest of a Secret), hex.
    pub fn bytes_digest(&self, domain: &str, bytes: &[u8]) -> String {
        let tag = self
            .mac(b"todoplan-bytes\0", &[domain.as_bytes(), bytes])
            .finalize()
            .into_bytes();
        hex::encode(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_keyed_128_bit_and_separate_key_names() {
        let a = DigestKey::from_bytes([1; KEY_BYTES]);
        let b = DigestKey::from_bytes([2; KEY_BYTES]);
        let d = a.value_digest("PASSWORD", b"hunter2");
        assert_eq!(d.len(), 32, "128 bits as hex: {d}");
        assert_eq!(d, a.value_digest("PASSWORD", b"hunter2"));
        assert_ne!(d, b.value_digest("PASSWORD", b"hunter2"));
        assert_ne!(d, a.value_digest("PASSWORD", b"hunter3"));
        assert_ne!(
            a.value_digest("ab", b"c"),
            a.value_digest("a", b"bc"),
            "key and value are framed"
        );
    }

    #[test]
    fn matches_hmac_sha256_as_specified() {
        // Recomputed by hand from the definition: HMAC-SHA256(key, domain || len(k) || k || len(v) || v).
        let key = DigestKey::from_bytes([7; KEY_BYTES]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[7; KEY_BYTES]).unwrap();
        mac.update(b"todoplan-secret-value\0");
        mac.update(&1u64.to_be_bytes());
        mac.update(b"K");
        mac.update(&1u64.to_be_bytes());
        mac.update(b"v");
        let expected = hex::encode(&mac.finalize().into_bytes()[..16]);
        assert_eq!(key.value_digest("K", b"v"), expected);
    }

    #[test]
    fn generated_keys_differ_and_debug_prints_no_key_material() {
        let a = DigestKey::generate();
        assert_ne!(a, DigestKey::generate());
        assert_eq!(format!("{a:?}"), "DigestKey(..)");
        assert_eq!(DigestKey::from_hex(&a.to_hex()), Some(a));
        assert_eq!(DigestKey::from_hex("abcd"), None);
    }
}

//! Sprig's crypto functions, as helm v3.17 ships them (sprig v3.3.0): keys and certificates
//! (`genPrivateKey`, `genCA`, `genSelfSignedCert`, `genSignedCert`, their `WithKey` forms,
//! `buildCustomCert`), password hashes (`bcrypt`, `htpasswd`, `derivePassword`), AES-CBC
//! (`encryptAES`, `decryptAES`), and `getHostByName`. Formats follow Go's: PKCS#1 "RSA PRIVATE
//! KEY", SEC1 "EC PRIVATE KEY", PKCS#8 "PRIVATE KEY" for ed25519, "$2a$" bcrypt hashes.

use std::rc::Rc;

use base64::Engine;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::EncodePrivateKey;

use super::funcs::{FuncEnv, FuncError, R, err, i, nargs, s, wrong};
use super::value::{Object, Value, go_bytes, string_from_go_bytes};

/// The system's CSPRNG (rand's thread generator) for the RustCrypto crates, which take the
/// newer rand_core traits.
struct SystemRng;

impl rsa::rand_core::TryRng for SystemRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(rand::RngCore::next_u32(&mut rand::rng()))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(rand::RngCore::next_u64(&mut rand::rng()))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        rand::RngCore::fill_bytes(&mut rand::rng(), dst);
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for SystemRng {}

/// A two-prime RSA key with public exponent 65537, as `rsa::PrivateKey::new` makes it (each
/// prime odd with its top two bits set, so the modulus has exactly `bits` bits; d from Euler's
/// totient), except that each prime is searched for on several threads at once: the first
/// thread to find one wins. Prime search is most of the time of a render that makes keys.
fn generate_rsa_key(bits: usize) -> Result<rsa::PrivateKey, String> {
    let half = u32::try_from(bits / 2).map_err(|_| format!("key size {bits} is too large"))?;
    if bits < 1024 || !bits.is_multiple_of(2) {
        // the crate refuses sizes below its minimum; keep its own path for odd sizes
        return rsa::PrivateKey::new(&mut SystemRng, bits).map_err(|e| e.to_string());
    }
    // gcd(e, p-1) = 1 fails for about one prime in 65537: try again then, as the crate does
    for _ in 0..64 {
        let p = search_prime_on_threads(half);
        let q = search_prime_on_threads(half);
        if p == q {
            continue;
        }
        if let Ok(key) = rsa::PrivateKey::from_primes(vec![p, q], rsa::BoxedUint::from(65537u64)) {
            return Ok(key);
        }
    }
    Err("no valid key from the primes found".into())
}

/// An odd prime of `bits` bits (>= 2) with its top two bits set, from the sieve and the
/// Baillie-PSW test the rsa crate uses, searched from random starts on up to four threads.
fn search_prime_on_threads(bits: u32) -> rsa::BoxedUint {
    use std::sync::atomic::{AtomicBool, Ordering};
    let threads = std::thread::available_parallelism()
        .map(|n| n.get().min(4))
        .unwrap_or(1);
    let found = AtomicBool::new(false);
    let search = || search_prime(bits, &found);
    if threads < 2 {
        return search()
            .unwrap_or_else(|| search_prime(bits, &AtomicBool::new(false)).unwrap_or_default());
    }
    let result = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(s, search).ok())
            .collect();
        let mine = search();
        found.store(true, Ordering::Relaxed);
        let mut winner = mine;
        for h in helpers {
            if let Ok(Some(p)) = h.join()
                && winner.is_none()
            {
                winner = Some(p);
            }
        }
        winner
    });
    result.unwrap_or_else(|| search_prime(bits, &AtomicBool::new(false)).unwrap_or_default())
}

/// Search from random starts until a prime turns up (Some) or another thread found one (None).
fn search_prime(bits: u32, found: &std::sync::atomic::AtomicBool) -> Option<rsa::BoxedUint> {
    use crypto_bigint::{BitOps, RandomBits};
    use std::sync::atomic::Ordering;
    let nz_bits = std::num::NonZeroU32::new(bits).filter(|b| b.get() >= 2)?;
    while !found.load(Ordering::Relaxed) {
        let Ok(mut start) = rsa::BoxedUint::try_random_bits(&mut SystemRng, bits) else {
            return None;
        };
        BitOps::set_bit_vartime(&mut start, 0, true);
        BitOps::set_bit_vartime(&mut start, bits - 1, true);
        BitOps::set_bit_vartime(&mut start, bits - 2, true);
        let Ok(sieve) = crypto_primes::hazmat::SmallFactorsSieve::new(start, nz_bits, false) else {
            return None;
        };
        for candidate in sieve {
            if found.load(Ordering::Relaxed) {
                return None;
            }
            if crypto_primes::is_prime(crypto_primes::Flavor::Any, &candidate) {
                found.store(true, Ordering::Relaxed);
                return Some(candidate);
            }
        }
    }
    None
}

fn lf(pem: &str) -> String {
    pem.replace("\r\n", "\n")
}

// ------------------------------------------------------------------ keys

enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    Ec(p256::SecretKey),
    /// The 32-byte seed.
    Ed25519([u8; 32]),
}

/// PKCS#8 prefix of an ed25519 key (RFC 8410), as Go's MarshalPKCS8PrivateKey writes it.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

impl PrivateKey {
    fn generate_rsa(bits: usize) -> Result<PrivateKey, FuncError> {
        generate_rsa_key(bits)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(|e| FuncError::Msg(format!("error generating rsa key: {e}")))
    }

    /// pemBlockForKey: the key as Go's sprig prints it.
    fn to_pem(&self) -> Result<String, FuncError> {
        let fail = |e: String| FuncError::Msg(format!("error pem-encoding key: {e}"));
        Ok(match self {
            PrivateKey::Rsa(k) => k
                .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| fail(e.to_string()))?
                .to_string(),
            PrivateKey::Ec(k) => k
                .to_sec1_pem(p256::pkcs8::LineEnding::LF)
                .map_err(|e| fail(e.to_string()))?
                .to_string(),
            PrivateKey::Ed25519(_) => lf(&pem_block("PRIVATE KEY", &self.pkcs8_der()?)),
        })
    }

    fn pkcs8_der(&self) -> Result<Vec<u8>, FuncError> {
        let fail = |e: String| FuncError::Msg(format!("error encoding key: {e}"));
        Ok(match self {
            PrivateKey::Rsa(k) => k
                .to_pkcs8_der()
                .map_err(|e| fail(e.to_string()))?
                .as_bytes()
                .to_vec(),
            PrivateKey::Ec(k) => k
                .to_pkcs8_der()
                .map_err(|e| fail(e.to_string()))?
                .as_bytes()
                .to_vec(),
            PrivateKey::Ed25519(seed) => {
                let mut der = ED25519_PKCS8_PREFIX.to_vec();
                der.extend_from_slice(seed);
                der
            }
        })
    }

    fn signing_key(&self) -> Result<rcgen::KeyPair, FuncError> {
        let alg: &'static rcgen::SignatureAlgorithm = match self {
            PrivateKey::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
            PrivateKey::Ec(_) => &rcgen::PKCS_ECDSA_P256_SHA256,
            PrivateKey::Ed25519(_) => &rcgen::PKCS_ED25519,
        };
        let der = self.pkcs8_der()?;
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der.into(), alg)
            .map_err(|e| FuncError::Msg(format!("error retrieving signing key: {e}")))
    }

    /// parsePrivateKeyPEM: the first PEM block of `text`.
    fn parse(text: &str) -> Result<PrivateKey, String> {
        let block = first_pem_block(text).ok_or("no PEM data in input")?;
        let (label, der) = block;
        match label.as_str() {
            "PRIVATE KEY" => {
                if der.len() == 48 && der[..16] == ED25519_PKCS8_PREFIX {
                    let mut seed = [0u8; 32];
                    seed.copy_from_slice(&der[16..]);
                    return Ok(PrivateKey::Ed25519(seed));
                }
                if let Ok(k) = rsa::pkcs8::DecodePrivateKey::from_pkcs8_der(&der) {
                    return Ok(PrivateKey::Rsa(Box::new(k)));
                }
                p256::pkcs8::DecodePrivateKey::from_pkcs8_der(&der)
                    .map(PrivateKey::Ec)
                    .map_err(|e| format!("decoding PEM as PKCS#8: {e}"))
            }
            "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_der(&der)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .map_err(|e| format!("parsing RSA private key from PEM: {e}")),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
                .map(PrivateKey::Ec)
                .map_err(|e| format!("parsing EC private key from PEM: {e}")),
            "DSA PRIVATE KEY" => Err("DSA keys are not supported by this renderer".into()),
            l if l.ends_with(" PRIVATE KEY") => Err(format!("invalid private key type {l}")),
            l => Err(format!("no private key data in PEM block of type {l}")),
        }
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Go's pem.Decode of the first block: (label, DER bytes).
fn first_pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = rest[body_start..].find(&end_marker)? + body_start;
    let b64: String = rest[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some((label, der))
}

fn f_gen_private_key(_: &FuncEnv, a: &[Value]) -> R {
    nargs("genPrivateKey", a, 1)?;
    let key = match s(&a[0])? {
        "" | "rsa" => PrivateKey::generate_rsa(4096)?,
        "ecdsa" => PrivateKey::Ec(<p256::SecretKey as rsa::Generate>::generate_from_rng(
            &mut rsa::rand_core::UnwrapErr(SystemRng),
        )),
        "ed25519" => {
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
            PrivateKey::Ed25519(seed)
        }
        "dsa" => return Ok(Value::string(generate_dsa_pem()?)),
        other => return Ok(Value::string(format!("Unknown type {other}"))),
    };
    Ok(Value::string(key.to_pem()?))
}

/// sprig's DSA key: parameters of L=2048, N=256 bits (Go's dsa.L2048N256), then a key, written
/// as sprig's DSAKeyFormat: the DER sequence (version 0, P, Q, G, Y, X), "DSA PRIVATE KEY".
fn generate_dsa_pem() -> Result<String, FuncError> {
    let mut rng = SystemRng;
    let components =
        dsa::Components::try_generate_from_rng_with_key_size(&mut rng, dsa::KeySize::DSA_2048_256)
            .map_err(|e| FuncError::Msg(format!("failed to generate dsa params: {e:?}")))?;
    let key = dsa::SigningKey::try_generate_from_rng_with_components(&mut rng, components)
        .map_err(|e| FuncError::Msg(format!("failed to generate dsa key: {e:?}")))?;
    let public = key.verifying_key();
    let c = public.components();
    let mut body = der_uint(&[0]);
    for n in [
        c.p().as_ref(),
        c.q().as_ref(),
        c.g().as_ref(),
        public.y().as_ref(),
        key.x().as_ref(),
    ] {
        body.extend(der_uint(&n.to_be_bytes_trimmed_vartime()));
    }
    Ok(lf(&pem_block("DSA PRIVATE KEY", &der(0x30, &body))))
}

/// A non-negative DER INTEGER from big-endian bytes.
fn der_uint(be: &[u8]) -> Vec<u8> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let mut content = Vec::with_capacity(be.len() - skip + 1);
    if be.get(skip).is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&be[skip..]);
    der(0x02, &content)
}

// ------------------------------------------------------------------ certificates

/// sprig's `certificate` struct: `.Cert` and `.Key`, PEM text.
#[derive(Debug)]
pub struct Certificate {
    cert: String,
    key: String,
}

const CERTIFICATE_TYPE: &str = "sprig.certificate";

impl Object for Certificate {
    fn type_name(&self) -> &'static str {
        CERTIFICATE_TYPE
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::str(&self.cert)),
            "Key" => Some(Value::str(&self.key)),
            _ => None,
        }
    }
    fn call(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn display(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }
}

fn cert_value(cert: String, key: String) -> Value {
    Value::Object(Rc::new(Certificate { cert, key }))
}

/// A `certificate` parameter: only what genCA, genSelfSignedCert, genSignedCert and
/// buildCustomCert return.
fn certificate_arg(v: &Value) -> Result<(String, String), FuncError> {
    match v {
        Value::Object(o) if o.type_name() == CERTIFICATE_TYPE => {
            let get = |f: &str| {
                o.field(f)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            };
            Ok((get("Cert"), get("Key")))
        }
        other => Err(wrong("sprig.certificate", other)),
    }
}

/// A `[]interface{}` parameter holding strings (nil is empty).
fn string_list(v: &Value, what: &str) -> Result<Vec<String>, FuncError> {
    let items = match v {
        Value::Nil => return Ok(Vec::new()),
        other => other
            .as_list()
            .ok_or_else(|| wrong("[]interface {}", other))?,
    };
    items
        .iter()
        .map(|x| match x {
            Value::Str(t) => Ok(t.to_string()),
            other => err(format!(
                "error {what}: {} is not a string",
                super::value::go_sprint(other)
            )),
        })
        .collect()
}

/// DER: `tag`, the definite length, `content`.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn extension(oid: &[u64], critical: bool, value: Vec<u8>) -> rcgen::CustomExtension {
    let mut e = rcgen::CustomExtension::from_oid_content(oid, value);
    e.set_criticality(critical);
    e
}

/// A certificate to write: what sprig's templates set, with the extensions written as Go's
/// crypto/x509 (buildCertExtensions) writes them: key usage, extended key usage, basic
/// constraints, subject key id (a CA's), authority key id (the signer's subject key id), subject
/// alt names (DNS names, then IPs; critical when the subject is empty). rcgen writes its own in
/// another order, so every extension is given to it as a custom one, in this order.
struct CertTemplate {
    params: rcgen::CertificateParams,
    ca: bool,
    /// The subjectAltName value, when there are names.
    sans: Option<Vec<u8>>,
    subject_empty: bool,
}

impl CertTemplate {
    /// The parameters for `key`, signed by the holder of `authority_key_id` (None: self-signed).
    fn params(
        mut self,
        key: &rcgen::KeyPair,
        authority_key_id: Option<&[u8]>,
    ) -> rcgen::CertificateParams {
        // digitalSignature | keyEncipherment (| keyCertSign), as a minimal BIT STRING
        let key_usage = if self.ca {
            vec![0x03, 0x02, 0x02, 0xa4]
        } else {
            vec![0x03, 0x02, 0x05, 0xa0]
        };
        let server_auth = der(0x06, &[0x2b, 6, 1, 5, 5, 7, 3, 1]);
        let client_auth = der(0x06, &[0x2b, 6, 1, 5, 5, 7, 3, 2]);
        let ext_key_usage = der(0x30, &[server_auth, client_auth].concat());
        let basic_constraints = if self.ca {
            der(0x30, &[0x01, 0x01, 0xff])
        } else {
            der(0x30, &[])
        };
        let exts = &mut self.params.custom_extensions;
        exts.clear();
        exts.push(extension(&[2, 5, 29, 15], true, key_usage));
        exts.push(extension(&[2, 5, 29, 37], false, ext_key_usage));
        exts.push(extension(&[2, 5, 29, 19], true, basic_constraints));
        if self.ca {
            // RFC 5280 4.2.1.2 method 1, as Go before 1.25: SHA-1 of the public key bits
            use rcgen::PublicKeyData;
            let id = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key.der_bytes());
            exts.push(extension(&[2, 5, 29, 14], false, der(0x04, id.as_ref())));
        }
        if let Some(id) = authority_key_id.filter(|id| !id.is_empty()) {
            exts.push(extension(&[2, 5, 29, 35], false, der(0x30, &der(0x80, id))));
        }
        if let Some(sans) = self.sans.take() {
            exts.push(extension(&[2, 5, 29, 17], self.subject_empty, sans));
        }
        self.params
    }
}

/// getBaseCertTemplate: a 128-bit random serial, the CN, IPs and DNS names, valid from now for
/// `days`, key usage for TLS servers and clients.
fn base_params(
    cn: &str,
    ips: &[String],
    dns: &[String],
    days: i64,
) -> Result<CertTemplate, FuncError> {
    let mut p = rcgen::CertificateParams::default();
    let mut serial = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut serial);
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    p.distinguished_name = rcgen::DistinguishedName::new();
    // Go's pkix writes a printable name as PrintableString, anything else as UTF8String, and
    // no attribute for an empty one.
    if !cn.is_empty() {
        let cn_value = match rcgen::string::PrintableString::try_from(cn) {
            Ok(p) => rcgen::DnValue::PrintableString(p),
            Err(_) => rcgen::DnValue::Utf8String(cn.to_string()),
        };
        p.distinguished_name
            .push(rcgen::DnType::CommonName, cn_value);
    }
    // sprig parses the IPs first; Go's x509 writes DNS names before IP addresses in the SAN
    // extension, and refuses a name that is not IA5 (ASCII) when it creates the certificate.
    let mut ip_names = Vec::new();
    for ip in ips {
        let parsed: std::net::IpAddr = ip
            .parse()
            .map_err(|_| FuncError::Msg(format!("error parsing ip: {ip}")))?;
        match parsed {
            std::net::IpAddr::V4(v4) => ip_names.extend(der(0x87, &v4.octets())),
            std::net::IpAddr::V6(v6) => ip_names.extend(der(0x87, &v6.octets())),
        }
    }
    let mut names = Vec::new();
    for d in dns {
        if !d.is_ascii() {
            return err(format!(
                "error creating certificate: x509: \"{d}\" cannot be encoded as an IA5String"
            ));
        }
        names.extend(der(0x82, d.as_bytes()));
    }
    names.extend(ip_names);
    let now = rcgen::date_time_ymd(1970, 1, 1)
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
    p.not_before = now;
    p.not_after = now + std::time::Duration::from_secs(days.max(0) as u64 * 86_400);
    p.is_ca = rcgen::IsCa::NoCa;
    Ok(CertTemplate {
        params: p,
        ca: false,
        sans: (!names.is_empty()).then(|| der(0x30, &names)),
        subject_empty: cn.is_empty(),
    })
}

fn create_err(e: rcgen::Error) -> FuncError {
    FuncError::Msg(format!("error creating certificate: {e}"))
}

fn self_signed(template: CertTemplate, key: &PrivateKey) -> R {
    let signing = key.signing_key()?;
    let cert = template
        .params(&signing, None)
        .self_signed(&signing)
        .map_err(create_err)?;
    Ok(cert_value(lf(&cert.pem()), key.to_pem()?))
}

fn ca_params(cn: &str, days: i64) -> Result<CertTemplate, FuncError> {
    let mut p = base_params(cn, &[], &[], days)?;
    p.ca = true;
    Ok(p)
}

fn pem_key_arg(v: &Value) -> Result<PrivateKey, FuncError> {
    PrivateKey::parse(s(v)?).map_err(|e| FuncError::Msg(format!("error parsing private key: {e}")))
}

fn f_gen_ca(_: &FuncEnv, a: &[Value]) -> R {
    nargs("genCA", a, 2)?;
    let params = ca_params(s(&a[0])?, i(&a[1])?)?;
    self_signed(params, &PrivateKey::generate_rsa(2048)?)
}

fn f_gen_ca_with_key(_: &FuncEnv, a: &[Value]) -> R {
    nargs("genCAWithKey", a, 3)?;
    let params = ca_params(s(&a[0])?, i(&a[1])?)?;
    self_signed(params, &pem_key_arg(&a[2])?)
}

fn self_signed_params(a: &[Value]) -> Result<CertTemplate, FuncError> {
    let ips = string_list(&a[1], "parsing ip")?;
    let dns = string_list(&a[2], "processing alternate dns name")?;
    base_params(s(&a[0])?, &ips, &dns, i(&a[3])?)
}

fn f_gen_self_signed_cert(_: &FuncEnv, a: &[Value]) -> R {
    nargs("genSelfSignedCert", a, 4)?;
    let params = self_signed_params(a)?;
    self_signed(params, &PrivateKey::generate_rsa(2048)?)
}

fn f_gen_self_signed_cert_with_key(_: &FuncEnv, a: &[Value]) -> R {
    nargs("genSelfSignedCertWithKey", a, 5)?;
    let params = self_signed_params(a)?;
    self_signed(params, &pem_key_arg(&a[4])?)
}

fn signed(a: &[Value], key: &PrivateKey) -> R {
    let template = self_signed_params(a)?;
    let (ca_cert, ca_key) = certificate_arg(&a[4])?;
    let signer = PrivateKey::parse(&ca_key)
        .map_err(|e| FuncError::Msg(format!("error parsing private key: {e}")))?
        .signing_key()?;
    let parse_err = |e: String| {
        FuncError::Msg(format!(
            "error parsing certificate: decodedSignerCert.Bytes: {e}"
        ))
    };
    // Go names the signer by the subject key id its certificate holds
    let ca_der = first_pem_block(&ca_cert)
        .map(|(_, der)| der)
        .unwrap_or_default();
    let ski = x509_parser::parse_x509_certificate(&ca_der)
        .map_err(|e| parse_err(e.to_string()))?
        .1
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                Some(id.0.to_vec())
            }
            _ => None,
        });
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&ca_cert, signer).map_err(|e| parse_err(e.to_string()))?;
    let signing = key.signing_key()?;
    let cert = template
        .params(&signing, ski.as_deref())
        .signed_by(&signing, &issuer)
        .map_err(create_err)?;
    Ok(cert_value(lf(&cert.pem()), key.to_pem()?))
}

fn f_gen_signed_cert(_: &FuncEnv, a: &[Value]) -> R {
    nargs("genSignedCert", a, 5)?;
    signed(a, &PrivateKey::generate_rsa(2048)?)
}

fn f_gen_signed_cert_with_key(_: &FuncEnv, a: &[Value]) -> R {
    nargs("genSignedCertWithKey", a, 6)?;
    signed(a, &pem_key_arg(&a[5])?)
}

fn f_build_custom_cert(_: &FuncEnv, a: &[Value]) -> R {
    nargs("buildCustomCert", a, 2)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let cert = b64
        .decode(s(&a[0])?)
        .map_err(|_| FuncError::Msg("unable to decode base64 certificate".into()))?;
    let key = b64
        .decode(s(&a[1])?)
        .map_err(|_| FuncError::Msg("unable to decode base64 private key".into()))?;
    let cert = string_from_go_bytes(&cert);
    let key = string_from_go_bytes(&key);
    let Some((label, der)) = first_pem_block(&cert) else {
        return err("unable to decode certificate");
    };
    if label != "CERTIFICATE" || x509_parser::parse_x509_certificate(&der).is_err() {
        return err("error parsing certificate: decodedCert.Bytes: malformed certificate");
    }
    PrivateKey::parse(&key)
        .map_err(|e| FuncError::Msg(format!("error parsing private key: {e}")))?;
    Ok(cert_value(cert, key))
}

// ------------------------------------------------------------------ passwords

/// bcrypt with Go's default cost and "$2a$" prefix.
fn bcrypt_hash(input: &[u8]) -> String {
    match bcrypt::hash_with_result(input, 10) {
        Ok(h) => h.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

fn f_bcrypt(_: &FuncEnv, a: &[Value]) -> R {
    nargs("bcrypt", a, 1)?;
    Ok(Value::string(bcrypt_hash(&go_bytes(s(&a[0])?))))
}

fn f_htpasswd(_: &FuncEnv, a: &[Value]) -> R {
    nargs("htpasswd", a, 2)?;
    let (user, password) = (s(&a[0])?, s(&a[1])?);
    if user.contains(':') {
        return Ok(Value::string(format!("invalid username: {user}")));
    }
    Ok(Value::string(format!(
        "{user}:{}",
        bcrypt_hash(&go_bytes(password))
    )))
}

const MASTER_PASSWORD_SEED: &[u8] = b"com.lyndir.masterpassword";

fn password_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_characters(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// The Master Password algorithm (scrypt key, HMAC-SHA256 seed, character templates).
pub fn derive_password(
    counter: u32,
    kind: &str,
    password: &[u8],
    user: &[u8],
    site: &[u8],
) -> String {
    let Some(templates) = password_templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = MASTER_PASSWORD_SEED.to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user);
    let mut key = [0u8; 64];
    let derived = scrypt::Params::new(15, 8, 2)
        .map_err(|e| e.to_string())
        .and_then(|p| scrypt::scrypt(password, &salt, &p, &mut key).map_err(|e| e.to_string()));
    if let Err(e) = derived {
        return format!("failed to derive password: {e}");
    }
    let mut msg = MASTER_PASSWORD_SEED.to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site);
    msg.extend_from_slice(&counter.to_be_bytes());
    let seed = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), &msg);
    let seed = seed.as_ref();
    let template = templates[seed[0] as usize % templates.len()].as_bytes();
    template
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let chars = template_characters(*c);
            chars[seed[i + 1] as usize % chars.len()] as char
        })
        .collect()
}

fn f_derive_password(_: &FuncEnv, a: &[Value]) -> R {
    nargs("derivePassword", a, 5)?;
    let counter = match &a[0] {
        Value::Int(n) if (0..=u32::MAX as i64).contains(n) => *n as u32,
        other => return Err(wrong("uint32", other)),
    };
    Ok(Value::string(derive_password(
        counter,
        s(&a[1])?,
        &go_bytes(s(&a[2])?),
        &go_bytes(s(&a[3])?),
        &go_bytes(s(&a[4])?),
    )))
}

// ------------------------------------------------------------------ AES

/// sprig's key: the password's bytes in a 32-byte, zero-filled buffer (AES-256).
fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let p = go_bytes(password);
    let n = p.len().min(32);
    key[..n].copy_from_slice(&p[..n]);
    key
}

fn f_encrypt_aes(_: &FuncEnv, a: &[Value]) -> R {
    use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
    nargs("encryptAES", a, 2)?;
    let (password, plain) = (s(&a[0])?, s(&a[1])?);
    if plain.is_empty() {
        return Ok(Value::str(""));
    }
    let mut iv = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut iv);
    let enc = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let mut out = iv.to_vec();
    out.extend(enc.encrypt_padded_vec::<cbc::cipher::block_padding::Pkcs7>(&go_bytes(plain)));
    Ok(Value::string(
        base64::engine::general_purpose::STANDARD.encode(out),
    ))
}

fn f_decrypt_aes(_: &FuncEnv, a: &[Value]) -> R {
    use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
    nargs("decryptAES", a, 2)?;
    let (password, crypt64) = (s(&a[0])?, s(&a[1])?);
    if crypt64.is_empty() {
        return Ok(Value::str(""));
    }
    let crypt = base64::engine::general_purpose::STANDARD
        .decode(crypt64)
        .map_err(|e| FuncError::Msg(e.to_string()))?;
    if crypt.len() < 32 || crypt.len() % 16 != 0 {
        return err("crypto/cipher: input not full blocks");
    }
    let (iv, body) = crypt.split_at(16);
    let mut iv_arr = [0u8; 16];
    iv_arr.copy_from_slice(iv);
    let dec = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv_arr.into());
    // Go strips as many bytes as the last byte says, without checking the padding.
    let plain = dec
        .decrypt_padded_vec::<cbc::cipher::block_padding::NoPadding>(body)
        .map_err(|e| FuncError::Msg(e.to_string()))?;
    let pad = *plain.last().unwrap_or(&0) as usize;
    if pad > plain.len() {
        return err("decryptAES: the padding is longer than the text (wrong password?)");
    }
    Ok(Value::string(string_from_go_bytes(
        &plain[..plain.len() - pad],
    )))
}

// ------------------------------------------------------------------ network

/// helm template and install run without `--enable-dns` here, so helm replaces sprig's
/// lookup with one that returns "": rendering never depends on (or waits for) DNS.
fn f_get_host_by_name(_: &FuncEnv, a: &[Value]) -> R {
    nargs("getHostByName", a, 1)?;
    s(&a[0])?;
    Ok(Value::str(""))
}

pub fn table() -> Vec<(&'static str, super::funcs::Func)> {
    vec![
        ("genPrivateKey", f_gen_private_key),
        ("genCA", f_gen_ca),
        ("genCAWithKey", f_gen_ca_with_key),
        ("genSelfSignedCert", f_gen_self_signed_cert),
        ("genSelfSignedCertWithKey", f_gen_self_signed_cert_with_key),
        ("genSignedCert", f_gen_signed_cert),
        ("genSignedCertWithKey", f_gen_signed_cert_with_key),
        ("buildCustomCert", f_build_custom_cert),
        ("bcrypt", f_bcrypt),
        ("htpasswd", f_htpasswd),
        ("derivePassword", f_derive_password),
        ("encryptAES", f_encrypt_aes),
        ("decryptAES", f_decrypt_aes),
        ("getHostByName", f_get_host_by_name),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::{Executor, TemplateSet};
    use super::*;

    fn render(src: &str) -> String {
        let mut set = TemplateSet::new();
        set.add_file("t", src)
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        let env = FuncEnv::new(None);
        Executor::new(&set, &env)
            .execute("t", &Value::Nil)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn parse_cert(pem: &str) -> x509_parser::certificate::X509Certificate<'static> {
        let (label, der) = first_pem_block(pem).unwrap();
        assert_eq!(label, "CERTIFICATE");
        let der: &'static [u8] = Box::leak(der.into_boxed_slice());
        x509_parser::parse_x509_certificate(der).unwrap().1
    }

    fn common_name(name: &x509_parser::x509::X509Name<'_>) -> String {
        name.iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn functions_in_branches_that_never_run_parse() {
        assert_eq!(
            render(r#"{{- if false }}{{ $ca := genCA "x" 1 }}{{ htpasswd "u" "p" }}{{ end -}}"#),
            ""
        );
    }

    #[test]
    fn derive_password_matches_the_master_password_vectors() {
        // the expectations sprig's own tests hold for these inputs
        for (counter, kind, want) in [
            (1, "long", "ZedaFaxcZaso9*"),
            (2, "long", "Fovi2@JifpTupx"),
            (1, "maximum", "pf4zS1LjCg&LjhsZ7T2~"),
            (1, "medium", "ZedJuz8$"),
            (1, "basic", "pIS54PLs"),
            (1, "short", "Zed5"),
            (1, "pin", "6685"),
        ] {
            let src = format!(
                r#"{{{{ derivePassword {counter} "{kind}" "password" "user" "example.com" }}}}"#
            );
            assert_eq!(render(&src), want, "{kind} {counter}");
        }
    }

    #[test]
    fn aes_reads_what_go_writes_and_round_trips() {
        // openssl enc -aes-256-cbc with the zero-padded key and IV 00..0f, IV prepended as sprig does
        assert_eq!(
            render(
                r#"{{ decryptAES "secretkey" "AAECAwQFBgcICQoLDA0OD4aChIkqfhLglmmHSXlA6r0=" }}"#
            ),
            "plaintext"
        );
        assert_eq!(
            render(r#"{{ "plaintext" | encryptAES "secretkey" | decryptAES "secretkey" }}"#),
            "plaintext"
        );
        let enc = render(r#"{{ encryptAES "k" "sixteen bytes!!!" }}"#);
        // IV + two blocks (a full block of padding after a 16-byte text)
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(enc)
                .unwrap()
                .len(),
            48
        );
        assert_eq!(render(r#"{{ encryptAES "k" "" }}"#), "");
    }

    #[test]
    fn htpasswd_and_bcrypt_write_go_hashes() {
        let line = render(r#"{{ htpasswd "admin" "s3cret" }}"#);
        let (user, hash) = line.split_once(':').unwrap();
        assert_eq!(user, "admin");
        assert!(hash.starts_with("$2a$10$") && hash.len() == 60, "{hash}");
        assert!(bcrypt::verify("s3cret", hash).unwrap());
        assert_eq!(
            render(r#"{{ htpasswd "a:b" "x" }}"#),
            "invalid username: a:b"
        );
        assert!(render(r#"{{ bcrypt "x" }}"#).starts_with("$2a$10$"));
    }

    #[test]
    fn get_host_by_name_is_empty_offline_as_in_helm_template() {
        assert_eq!(render(r#"[{{ getHostByName "localhost" }}]"#), "[]");
    }

    #[test]
    fn ca_signed_and_self_signed_certificates() {
        let out = render(
            r#"{{- $ca := genCA "my-ca" 365 -}}
{{- $c := genSignedCert "svc" (list "10.0.0.1") (list "svc.ns" "svc.ns.svc") 30 $ca -}}
{{ $ca.Cert }}|{{ $ca.Key }}|{{ $c.Cert }}|{{ $c.Key }}|{{ (buildCustomCert ($ca.Cert | b64enc) ($ca.Key | b64enc)).Cert }}"#,
        );
        let parts: Vec<&str> = out.split('|').collect();
        assert_eq!(parts.len(), 5);
        let ca = parse_cert(parts[0]);
        assert_eq!(common_name(ca.subject()), "my-ca");
        assert!(ca.is_ca());
        let days =
            (ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp()) / 86_400;
        assert_eq!(days, 365);
        assert!(parts[1].starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let leaf = parse_cert(parts[2]);
        assert_eq!(common_name(leaf.subject()), "svc");
        assert_eq!(common_name(leaf.issuer()), "my-ca");
        assert!(!leaf.is_ca());
        let sans = leaf.subject_alternative_name().unwrap().unwrap().value;
        let shown = format!("{:?}", sans.general_names);
        assert!(
            shown.contains("svc.ns.svc") && shown.contains("10, 0, 0, 1"),
            "{shown}"
        );
        assert!(parts[3].starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert_eq!(parts[4], parts[0]);
    }

    fn extension_oids(c: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
        c.extensions()
            .iter()
            .map(|e| e.oid.to_id_string())
            .collect()
    }

    #[test]
    fn certificate_extensions_in_the_order_go_writes_them() {
        // crypto/x509 buildCertExtensions: key usage, extended key usage, basic constraints,
        // subject key id, authority key id, subject alt names
        let out = render(
            r#"{{- $ca := genCA "ca" 3 -}}
{{- $c := genSignedCert "svc" (list "10.0.0.1") (list "a.b") 3 $ca -}}
{{- $s := genSelfSignedCert "me" (list "10.0.0.2") (list "c.d") 3 -}}
{{ $ca.Cert }}|{{ $c.Cert }}|{{ $s.Cert }}"#,
        );
        let parts: Vec<&str> = out.split('|').collect();
        let (ca, leaf, own) = (
            parse_cert(parts[0]),
            parse_cert(parts[1]),
            parse_cert(parts[2]),
        );
        assert_eq!(
            extension_oids(&ca),
            ["2.5.29.15", "2.5.29.37", "2.5.29.19", "2.5.29.14"]
        );
        assert_eq!(
            extension_oids(&leaf),
            [
                "2.5.29.15",
                "2.5.29.37",
                "2.5.29.19",
                "2.5.29.35",
                "2.5.29.17"
            ]
        );
        assert_eq!(
            extension_oids(&own),
            ["2.5.29.15", "2.5.29.37", "2.5.29.19", "2.5.29.17"]
        );
        // Go (before 1.25) derives the subject key id as the SHA-1 of the public key bits; a
        // signed certificate names its signer by the signer's subject key id
        let ski = ca.extensions()[3].value;
        let sha1 = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &ca.public_key().subject_public_key.data,
        );
        assert_eq!(&ski[2..], sha1.as_ref());
        assert_eq!(
            leaf.extensions()[3].value,
            [&[0x30, 0x16, 0x80, 0x14][..], &ski[2..]].concat()
        );
        // key usage digitalSignature|keyEncipherment(|certSign), basic constraints
        assert_eq!(ca.extensions()[0].value, [0x03, 0x02, 0x02, 0xa4]);
        assert_eq!(leaf.extensions()[0].value, [0x03, 0x02, 0x05, 0xa0]);
        assert_eq!(ca.extensions()[2].value, [0x30, 0x03, 0x01, 0x01, 0xff]);
        assert_eq!(leaf.extensions()[2].value, [0x30, 0x00]);
        assert!(ca.extensions()[2].critical && !leaf.extensions()[4].critical);
    }

    #[test]
    fn private_keys_in_go_formats_and_certificates_with_them() {
        let ec = render(r#"{{ genPrivateKey "ecdsa" }}"#);
        assert!(ec.starts_with("-----BEGIN EC PRIVATE KEY-----\n"), "{ec}");
        let ed = render(r#"{{ genPrivateKey "ed25519" }}"#);
        assert!(ed.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{ed}");
        assert_eq!(first_pem_block(&ed).unwrap().1.len(), 48);
        assert_eq!(render(r#"{{ genPrivateKey "nope" }}"#), "Unknown type nope");
        // DSA as sprig writes it: SEQUENCE { 0, P (2048 bits), Q (256), G, Y, X }
        let dsa = render(r#"{{ genPrivateKey "dsa" }}"#);
        let (label, der) = first_pem_block(&dsa).unwrap();
        assert_eq!(label, "DSA PRIVATE KEY");
        let (_, seq) = x509_parser::der_parser::der::parse_der_sequence(&der).unwrap();
        let ints: Vec<_> = seq
            .as_sequence()
            .unwrap()
            .iter()
            .map(|i| i.as_bigint().unwrap())
            .collect();
        assert_eq!(ints.len(), 6);
        assert_eq!(ints[0], 0u32.into());
        assert_eq!((ints[1].bits(), ints[2].bits()), (2048, 256));
        // y = g^x mod p, x < q, q divides p - 1
        assert_eq!(ints[3].modpow(&ints[5], &ints[1]), ints[4]);
        assert!(ints[5] < ints[2]);
        assert_eq!((&ints[1] - 1u32) % &ints[2], 0u32.into());
        let out = render(
            r#"{{- $k := genPrivateKey "ecdsa" -}}{{ $c := genSelfSignedCertWithKey "me" nil (list "me.example") 10 $k }}{{ $c.Cert }}|{{ eq $c.Key $k }}"#,
        );
        let (cert, same) = out.split_once('|').unwrap();
        assert_eq!(same, "true");
        assert_eq!(common_name(parse_cert(cert).subject()), "me");
    }
}

//! Operator PINs: the Argon2id verifier central keeps and sends to the stations, and the check a
//! station makes against its cached copy (so a login works offline). The PIN itself is never
//! stored, logged or sent: only the verifier (a PHC string with its own salt and parameters).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

/// Memory in KiB, passes and lanes: OWASP's first Argon2id choice (19 MiB, 2 passes, 1 lane),
/// about 20 ms on a station's CPU. A verifier keeps its own parameters, so raising these later
/// leaves older verifiers valid.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Shortest and longest PIN accepted when one is set.
pub const PIN_MIN_LEN: usize = 4;
pub const PIN_MAX_LEN: usize = 32;

/// A PIN as typed. Never printed: `Debug` shows stars, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn new(text: impl Into<String>) -> Self {
        Pin(text.into())
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("a PIN has {PIN_MIN_LEN} to {PIN_MAX_LEN} characters, without spaces")]
    BadPin,
    #[error("the stored PIN verifier is not an Argon2id PHC string: {0}")]
    BadVerifier(String),
    #[error("hashing the PIN failed: {0}")]
    Hash(String),
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("constant Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The verifier to store for `pin`, with a fresh random salt.
pub fn hash_pin(pin: &Pin) -> Result<String, CredentialError> {
    check_pin_rules(pin)?;
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| CredentialError::Hash(e.to_string()))?;
    hasher()
        .hash_password(pin.bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| CredentialError::Hash(e.to_string()))
}

/// Whether a PIN someone wants to set is acceptable.
pub fn check_pin_rules(pin: &Pin) -> Result<(), CredentialError> {
    let len = pin.len();
    if !(PIN_MIN_LEN..=PIN_MAX_LEN).contains(&len) || pin.0.chars().any(char::is_whitespace) {
        return Err(CredentialError::BadPin);
    }
    Ok(())
}

/// Whether `verifier` is one this build can check (import and master data refuse others).
pub fn check_verifier(verifier: &str) -> Result<(), CredentialError> {
    let parsed =
        PasswordHash::new(verifier).map_err(|e| CredentialError::BadVerifier(e.to_string()))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(CredentialError::BadVerifier(format!(
            "algorithm {} (argon2id expected)",
            parsed.algorithm
        )));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(CredentialError::BadVerifier("no salt or hash".into()));
    }
    Ok(())
}

/// Whether `pin` matches `verifier`. A wrong PIN is `Ok(false)`; a verifier that cannot be read
/// is an error, so a corrupt record is told apart from a mistyped PIN.
pub fn verify_pin(verifier: &str, pin: &Pin) -> Result<bool, CredentialError> {
    check_verifier(verifier)?;
    let parsed =
        PasswordHash::new(verifier).map_err(|e| CredentialError::BadVerifier(e.to_string()))?;
    match hasher().verify_password(pin.bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(CredentialError::BadVerifier(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_verifies_against_its_own_verifier_only() {
        let verifier = hash_pin(&Pin::new("1001")).expect("hash");
        assert!(
            verifier.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{verifier}"
        );
        assert_eq!(verify_pin(&verifier, &Pin::new("1001")), Ok(true));
        assert_eq!(verify_pin(&verifier, &Pin::new("1002")), Ok(false));
        // A fresh salt each time: two verifiers of one PIN differ.
        assert_ne!(verifier, hash_pin(&Pin::new("1001")).expect("hash"));
    }

    #[test]
    fn short_long_or_spaced_pins_are_refused_when_set() {
        for bad in ["", "123", "12 34", &"9".repeat(33)] {
            assert_eq!(
                hash_pin(&Pin::new(bad)),
                Err(CredentialError::BadPin),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_verifier_of_another_kind_is_an_error_not_a_wrong_pin() {
        for bad in [
            "",
            "1001",
            "$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$aGFzaA",
            "$2b$12$abc",
        ] {
            assert!(
                matches!(
                    verify_pin(bad, &Pin::new("1001")),
                    Err(CredentialError::BadVerifier(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_pin_never_shows_in_debug_output() {
        let text = format!("{:?}", Pin::new("4711"));
        assert!(!text.contains("4711"), "{text}");
    }
}

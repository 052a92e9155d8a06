//! Ed25519 JWTs in cc-backend's format.
//!
//! Keys are base64 (standard alphabet) of the raw bytes, as cc-backend's `JWT_PUBLIC_KEY`
//! and `JWT_PRIVATE_KEY` hold them: 32 bytes public, 64 bytes private (Go's
//! `ed25519.PrivateKey`, seed then public key; a bare 32-byte seed is accepted too).

use super::{Principal, Role};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

/// cc-backend's claims, plus `projects` for managers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// cc-backend issues API tokens without an expiry; those keep working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

/// Why a token was refused. Shown to the caller and logged, never with the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("no token: send X-Auth-Token or Authorization: Bearer")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("the token names no role jobledger knows (admin, api, manager, user)")]
    NoRole,
}

/// Checks signatures with the public key; cheap to share.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(Ed25519)")
    }
}

impl Verifier {
    pub fn from_base64(public_key: &str) -> Result<Verifier, String> {
        let raw = STANDARD
            .decode(public_key.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        if raw.len() != 32 {
            return Err(format!(
                "an Ed25519 public key has 32 bytes, this one {}",
                raw.len()
            ));
        }
        // Only EdDSA: an HS256 token "signed" with the public key as secret is refused.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.leeway = 60;
        Ok(Verifier {
            key: DecodingKey::from_ed_der(&raw),
            validation,
        })
    }

    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let c = data.claims;
        let role = c
            .roles
            .iter()
            .filter_map(|r| Role::parse(&r.to_ascii_lowercase()))
            .min()
            .ok_or(TokenError::NoRole)?;
        if c.sub.trim().is_empty() {
            return Err(TokenError::Invalid("the token has an empty sub".into()));
        }
        Ok(Principal {
            sub: c.sub,
            role,
            projects: c.projects,
        })
    }
}

/// Signs tokens with the private key (`jobledger token`, tests).
pub struct Signer {
    key: EncodingKey,
}

impl Signer {
    pub fn from_base64(private_key: &str) -> Result<Signer, String> {
        let raw = STANDARD
            .decode(private_key.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let seed: [u8; 32] = match raw.len() {
            32 | 64 => raw[..32].try_into().map_err(|_| "bad key length")?,
            n => {
                return Err(format!(
                    "an Ed25519 private key has 64 (or 32) bytes, this one {n}"
                ))
            }
        };
        Ok(Signer {
            key: EncodingKey::from_ed_der(&pkcs8_v1(&seed)),
        })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.key)
            .map_err(|e| e.to_string())
    }
}

/// A fresh key pair as (public, private), base64, in cc-backend's layout.
pub fn generate() -> Result<(String, String), String> {
    let mut seed = [0u8; 32];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| "the system random source failed")?;
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| e.to_string())?;
    let public = pair.public_key().as_ref().to_vec();
    let mut private = seed.to_vec();
    private.extend_from_slice(&public);
    Ok((STANDARD.encode(public), STANDARD.encode(private)))
}

/// The PKCS#8 v1 document of an Ed25519 seed (RFC 8410): a fixed prefix, then the seed.
fn pkcs8_v1(seed: &[u8; 32]) -> Vec<u8> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut der = PREFIX.to_vec();
    der.extend_from_slice(seed);
    der
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(roles: &[&str], exp: Option<i64>) -> Claims {
        Claims {
            sub: "alice".into(),
            roles: roles.iter().map(std::string::ToString::to_string).collect(),
            projects: vec!["p1".into()],
            iat: Some(chrono::Utc::now().timestamp()),
            exp,
        }
    }

    #[test]
    fn a_signed_token_verifies_with_its_public_key_only() {
        let (public, private) = generate().unwrap();
        let token = Signer::from_base64(&private)
            .unwrap()
            .sign(&claims(&["user", "manager"], None))
            .unwrap();
        let p = Verifier::from_base64(&public)
            .unwrap()
            .verify(&token)
            .unwrap();
        assert_eq!((p.sub.as_str(), p.role), ("alice", Role::Manager));
        assert_eq!(p.projects, vec!["p1".to_string()]);
        let (other, _) = generate().unwrap();
        let e = Verifier::from_base64(&other).unwrap().verify(&token);
        assert!(matches!(e, Err(TokenError::Invalid(_))), "{e:?}");
    }

    #[test]
    fn expired_tampered_and_hs256_tokens_are_refused() {
        let (public, private) = generate().unwrap();
        let signer = Signer::from_base64(&private).unwrap();
        let v = Verifier::from_base64(&public).unwrap();
        let expired = signer.sign(&claims(&["admin"], Some(1_000_000))).unwrap();
        assert!(v.verify(&expired).is_err());
        let good = signer.sign(&claims(&["user"], None)).unwrap();
        let mut parts: Vec<String> = good.split('.').map(String::from).collect();
        let admin = STANDARD
            .encode(r#"{"sub":"alice","roles":["admin"]}"#)
            .replace('=', "");
        parts[1] = admin.replace('+', "-").replace('/', "_");
        assert!(v.verify(&parts.join(".")).is_err());
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(&["admin"], None),
            &EncodingKey::from_secret(public.as_bytes()),
        )
        .unwrap();
        assert!(v.verify(&hs).is_err());
    }

    #[test]
    fn a_token_without_a_known_role_is_refused() {
        let (public, private) = generate().unwrap();
        let token = Signer::from_base64(&private)
            .unwrap()
            .sign(&claims(&["support"], None))
            .unwrap();
        let e = Verifier::from_base64(&public).unwrap().verify(&token);
        assert_eq!(e, Err(TokenError::NoRole));
    }

    #[test]
    fn keys_of_the_wrong_size_are_named_as_such() {
        let e = Verifier::from_base64(&STANDARD.encode([1u8; 16])).unwrap_err();
        assert!(e.contains("32 bytes"), "{e}");
        assert!(Signer::from_base64("%%%").is_err());
    }
}

//! A credential as a peer holds it: `ID.SECRET`.

use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenParseError {
    #[error("a token looks like ID.SECRET (both hex); this one has no `.`")]
    NoDot,
    #[error("the token's ID part is empty or not hex")]
    BadId,
    #[error("the token's SECRET part is empty or not hex")]
    BadSecret,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    /// Hex, as written in files; the MAC key is these bytes decoded.
    pub secret: String,
}

impl Token {
    /// A fresh token: 12 hex digits of ID, 256 bits of secret.
    pub fn generate() -> Token {
        Token {
            id: hex::encode(rand::random::<[u8; 6]>()),
            secret: hex::encode(rand::random::<[u8; 32]>()),
        }
    }

    pub fn parse(text: &str) -> Result<Token, TokenParseError> {
        let text = text.trim();
        let (id, secret) = text.split_once('.').ok_or(TokenParseError::NoDot)?;
        let is_hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex(id) || id.len() > 64 {
            return Err(TokenParseError::BadId);
        }
        if !is_hex(secret) || secret.len() % 2 != 0 || secret.len() > 256 {
            return Err(TokenParseError::BadSecret);
        }
        Ok(Token {
            id: id.to_ascii_lowercase(),
            secret: secret.to_ascii_lowercase(),
        })
    }

    /// The secret's bytes, the HMAC key.
    pub fn key(&self) -> Vec<u8> {
        hex::decode(&self.secret).unwrap_or_default()
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.id, self.secret)
    }
}

/// Never print a secret by accident.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}.***)", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let t = Token::generate();
        assert_eq!(Token::parse(&format!("{t}\n")), Ok(t.clone()));
        assert_eq!(t.key().len(), 32);
        assert!(!format!("{t:?}").contains(&t.secret));
        assert_eq!(Token::parse("abc"), Err(TokenParseError::NoDot));
        assert_eq!(Token::parse(".ab"), Err(TokenParseError::BadId));
        assert_eq!(Token::parse("xy.ab"), Err(TokenParseError::BadId));
        assert_eq!(Token::parse("ab."), Err(TokenParseError::BadSecret));
        assert_eq!(Token::parse("ab.abc"), Err(TokenParseError::BadSecret));
    }
}

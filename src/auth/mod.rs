//! Authentication: tokens (`ID.SECRET`), the tokens file configd keeps, and
//! the HMAC that proves a peer holds a secret without sending it.

mod mac;
mod secret_file;
mod token;
mod tokens_file;

pub use mac::{handshake_mac, random_nonce, verify_handshake_mac};
pub use secret_file::{check_private, read_private, write_private, SecretFileError};
pub use token::{Token, TokenParseError};
pub use tokens_file::{TokenEntry, TokensFile, TokensFileError};

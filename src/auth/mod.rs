//! Authentication: tokens (`ID.SECRET`), the tokens file configd keeps
//! (derived keys only), and the proofs that show each side holds its part
//! without sending it.

mod proof;
mod secret_file;
mod token;
mod tokens_file;

pub use proof::{
    client_proof, random_nonce, server_proof, verify_client_proof, verify_server_proof, TokenKeys,
    Transcript,
};
pub use secret_file::{check_private, read_private, write_private, SecretFileError};
pub use token::{Token, TokenParseError};
pub use tokens_file::{TokenEntry, TokensFile, TokensFileError};

//! Signatures and the AES message scheme (WECHAT.md §6.1, §6.6, §12.2).
//!
//! The scheme (WXBizMsgCrypt): key = base64(EncodingAESKey + "="), decoded leniently; IV = the
//! key's first 16 bytes; AES-256-CBC over `random16 ‖ u32be(len(msg)) ‖ msg ‖ receive_id`
//! padded PKCS#7-style to a multiple of **32**. Randomness is the caller's: `random16` is an
//! argument, so this module is deterministic and testable against published vectors.

use aes::Aes256;
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::general_purpose::STANDARD as B64;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Every SDK decodes the 43-character key ignoring the trailing bits of its last character
/// (`…S1aR` ≡ `…S1aQ`, §6.6): a strict decoder rejects most real keys. Padding is optional so
/// the same engine reads ciphertexts with or without `=`.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// PKCS#7 block size of the scheme: 32, not AES's 16 (§6.6).
pub const PAD_BLOCK: usize = 32;

/// What can go wrong reading encrypted data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("EncodingAESKey must be 43 characters of the base64 alphabet")]
    InvalidAesKey,
    #[error("signature mismatch")]
    SignatureMismatch,
    #[error("Encrypt is not base64")]
    Base64,
    #[error("ciphertext length is not a positive multiple of 16")]
    CiphertextLength,
    #[error("decrypted data is malformed (padding or length field)")]
    MalformedPlaintext,
    #[error("receive id {found:?} is not the expected one")]
    ReceiveIdMismatch { found: String },
}

impl CryptoError {
    /// The error code of Tencent's sample library for this failure (§6.6), for logs.
    pub fn sample_code(&self) -> i32 {
        match self {
            CryptoError::SignatureMismatch => -40001,
            CryptoError::InvalidAesKey => -40004,
            CryptoError::ReceiveIdMismatch { .. } => -40005,
            CryptoError::CiphertextLength | CryptoError::MalformedPlaintext => -40007,
            CryptoError::Base64 => -40010,
        }
    }
}

/// `signature` of URL verification and of every push (§6.1):
/// hex(sha1(concat(sort([token, timestamp, nonce])))).
pub fn signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sorted_sha1(&mut [token, timestamp, nonce])
}

/// `msg_signature` of encrypted pushes and replies (§6.6), and of WeCom's URL verification
/// (§12.2, over the encrypted `echostr`): the same with `Encrypt` as a fourth part.
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sorted_sha1(&mut [token, timestamp, nonce, encrypt])
}

/// Sorted byte-wise, as wechatpy's `WeChatSigner` sorts byte strings.
fn sorted_sha1(parts: &mut [&str]) -> String {
    parts.sort_unstable();
    let mut sha = Sha1::new();
    for part in parts.iter() {
        sha.update(part.as_bytes());
    }
    hex::encode(sha.finalize())
}

/// Compares two signatures in constant time (for equal lengths; a length difference is no
/// secret). Exact bytes: WeChat's signatures are lower-case hex.
pub fn signatures_match(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// `signatures_match(signature(token, timestamp, nonce), given)`.
pub fn verify_signature(token: &str, timestamp: &str, nonce: &str, given: &str) -> bool {
    signatures_match(&signature(token, timestamp, nonce), given)
}

/// `signatures_match(msg_signature(token, timestamp, nonce, encrypt), given)`.
pub fn verify_msg_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    given: &str,
) -> bool {
    signatures_match(&msg_signature(token, timestamp, nonce, encrypt), given)
}

/// An account's AES-256 key, from its EncodingAESKey.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey([u8; 32]);

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(..)")
    }
}

impl AesKey {
    /// Decodes a 43-character EncodingAESKey leniently (non-zero trailing bits of the last
    /// character are ignored, §6.6). Anything but 43 characters of the standard base64
    /// alphabet is [`CryptoError::InvalidAesKey`].
    pub fn from_encoding_aes_key(s: &str) -> Result<AesKey, CryptoError> {
        if s.len() != 43 {
            return Err(CryptoError::InvalidAesKey);
        }
        let bytes = LENIENT.decode(s).map_err(|_| CryptoError::InvalidAesKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::InvalidAesKey)?;
        Ok(AesKey(key))
    }

    pub fn from_bytes(key: [u8; 32]) -> AesKey {
        AesKey(key)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The canonical 43-character spelling (trailing bits zero).
    pub fn to_encoding_aes_key(&self) -> String {
        let mut s = B64.encode(self.0);
        s.pop(); // the single '=' of a 32-byte encoding
        s
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.0[..16]);
        iv
    }
}

/// Encrypts `msg` for `receive_id` (appid, corpid or suite id) and returns `Encrypt`
/// (base64). `random16` is the caller's: SDKs use 16 random alphanumerics or bytes.
pub fn encrypt(key: &AesKey, random16: &[u8; 16], msg: &[u8], receive_id: &str) -> String {
    let unpadded = 16 + 4 + msg.len() + receive_id.len();
    let pad = PAD_BLOCK - unpadded % PAD_BLOCK;
    let mut buf = Vec::with_capacity(unpadded + pad);
    buf.extend_from_slice(random16);
    // A message over 4 GiB cannot be framed; such a length never reaches kefu (bodies are
    // capped far below), and saturating keeps this function total.
    buf.extend_from_slice(&u32::try_from(msg.len()).unwrap_or(u32::MAX).to_be_bytes());
    buf.extend_from_slice(msg);
    buf.extend_from_slice(receive_id.as_bytes());
    // pad is 1..=32, so it fits a byte.
    buf.resize(unpadded + pad, pad as u8);
    let mut cbc = cbc::Encryptor::<Aes256>::new(&key.0.into(), &key.iv().into());
    for block in buf.chunks_exact_mut(16) {
        cbc.encrypt_block_mut(block.into());
    }
    B64.encode(&buf)
}

/// A decrypted message and the receive id it was sealed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub message: Vec<u8>,
    pub receive_id: Vec<u8>,
}

/// Decrypts `Encrypt` and checks it was sealed for `expected_receive_id` (wechatpy's check,
/// §6.6). Verify the `msg_signature` first.
pub fn decrypt(
    key: &AesKey,
    encrypt_b64: &str,
    expected_receive_id: &str,
) -> Result<Vec<u8>, CryptoError> {
    let d = decrypt_any(key, encrypt_b64)?;
    if d.receive_id != expected_receive_id.as_bytes() {
        return Err(CryptoError::ReceiveIdMismatch {
            found: String::from_utf8_lossy(&d.receive_id).into_owned(),
        });
    }
    Ok(d.message)
}

/// Decrypts `Encrypt` without checking the receive id (WeCom third-party apps receive for
/// several ids).
pub fn decrypt_any(key: &AesKey, encrypt_b64: &str) -> Result<Decrypted, CryptoError> {
    let mut buf = LENIENT
        .decode(encrypt_b64.trim())
        .map_err(|_| CryptoError::Base64)?;
    if buf.is_empty() || buf.len() % 16 != 0 {
        return Err(CryptoError::CiphertextLength);
    }
    let plain = cbc::Decryptor::<Aes256>::new(&key.0.into(), &key.iv().into())
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| CryptoError::CiphertextLength)?;
    // Strip `last byte` bytes; wechatpy treats a value outside 1..=32 as no usable padding.
    let pad = usize::from(*plain.last().ok_or(CryptoError::MalformedPlaintext)?);
    if !(1..=PAD_BLOCK).contains(&pad) || plain.len() < 16 + 4 + pad {
        return Err(CryptoError::MalformedPlaintext);
    }
    let content = &plain[16..plain.len() - pad];
    let (len, rest) = content.split_at(4);
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > rest.len() {
        return Err(CryptoError::MalformedPlaintext);
    }
    let (message, receive_id) = rest.split_at(len);
    Ok(Decrypted {
        message: message.to_vec(),
        receive_id: receive_id.to_vec(),
    })
}

/// Verifies `msg_signature` over `Encrypt`, then decrypts it for `receive_id`: the order of
/// §6.6 ("verify msg_signature first").
pub fn verify_and_decrypt(
    key: &AesKey,
    token: &str,
    timestamp: &str,
    nonce: &str,
    given_msg_signature: &str,
    encrypt_b64: &str,
    receive_id: &str,
) -> Result<Vec<u8>, CryptoError> {
    if !verify_msg_signature(token, timestamp, nonce, encrypt_b64, given_msg_signature) {
        return Err(CryptoError::SignatureMismatch);
    }
    decrypt(key, encrypt_b64, receive_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

    #[test]
    fn documented_signature_vector() {
        // WECHAT.md §6.1.
        assert_eq!(
            signature("123456", "1411443780", "437374425"),
            "97f44b51ccbee5533bf61e753557d165ea0f4566"
        );
        assert!(verify_signature(
            "123456",
            "1411443780",
            "437374425",
            "97f44b51ccbee5533bf61e753557d165ea0f4566"
        ));
        assert!(!verify_signature(
            "123456",
            "1411443780",
            "437374424",
            "97f44b51ccbee5533bf61e753557d165ea0f4566"
        ));
    }

    #[test]
    fn signature_comparison() {
        assert!(signatures_match("abc", "abc"));
        assert!(!signatures_match("abc", "abd"));
        assert!(!signatures_match("abc", "ab"));
        assert!(!signatures_match("abc", "ABC"));
    }

    #[test]
    fn lenient_key_decoding() {
        let loose = AesKey::from_encoding_aes_key(KEY).unwrap();
        let canonical =
            AesKey::from_encoding_aes_key("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ").unwrap();
        assert_eq!(loose, canonical);
        assert_eq!(
            loose.to_encoding_aes_key(),
            "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ"
        );
        assert_eq!(format!("{loose:?}"), "AesKey(..)");
        for bad in [
            "",
            "short",
            &format!("{KEY}="),
            &KEY.replace('k', "-"),
            &KEY.replace('k', "é")[..43],
        ] {
            assert_eq!(
                AesKey::from_encoding_aes_key(bad),
                Err(CryptoError::InvalidAesKey),
                "{bad}"
            );
        }
    }

    #[test]
    fn round_trip_and_failures() {
        let key = AesKey::from_encoding_aes_key(KEY).unwrap();
        let enc = encrypt(&key, b"1234567890123456", b"hello", "wx49f0ab532d5d035a");
        assert_eq!(decrypt(&key, &enc, "wx49f0ab532d5d035a").unwrap(), b"hello");
        assert_eq!(
            decrypt(&key, &enc, "wxother"),
            Err(CryptoError::ReceiveIdMismatch {
                found: "wx49f0ab532d5d035a".into()
            })
        );
        let d = decrypt_any(&key, &enc).unwrap();
        assert_eq!(
            (d.message.as_slice(), d.receive_id.as_slice()),
            (&b"hello"[..], &b"wx49f0ab532d5d035a"[..])
        );
        assert_eq!(decrypt(&key, "!!!", "x"), Err(CryptoError::Base64));
        assert_eq!(decrypt(&key, "", "x"), Err(CryptoError::CiphertextLength));
        assert_eq!(
            decrypt(&key, "AAAA", "x"),
            Err(CryptoError::CiphertextLength)
        );
        // A block of garbage decrypts to junk padding or length.
        assert_eq!(
            decrypt(&key, &B64.encode([0u8; 32]), "x")
                .map(|_| ())
                .unwrap_err()
                .sample_code(),
            -40007
        );
        let other = AesKey::from_bytes([7; 32]);
        assert!(decrypt(&other, &enc, "wx49f0ab532d5d035a").is_err());
    }

    #[test]
    fn verify_then_decrypt() {
        let key = AesKey::from_encoding_aes_key(KEY).unwrap();
        let enc = encrypt(&key, &[0; 16], b"m", "id");
        let sig = msg_signature("tok", "1", "2", &enc);
        assert_eq!(
            verify_and_decrypt(&key, "tok", "1", "2", &sig, &enc, "id").unwrap(),
            b"m"
        );
        assert_eq!(
            verify_and_decrypt(&key, "tok", "1", "3", &sig, &enc, "id"),
            Err(CryptoError::SignatureMismatch)
        );
    }

    #[test]
    fn padding_lengths() {
        let key = AesKey::from_bytes([1; 32]);
        for len in 0..70 {
            let msg = vec![b'x'; len];
            let enc = encrypt(&key, &[0; 16], &msg, "wx");
            let raw = B64.decode(&enc).unwrap();
            assert_eq!(raw.len() % PAD_BLOCK, 0);
            assert!(raw.len() > 16 + 4 + len + 2);
            assert_eq!(decrypt(&key, &enc, "wx").unwrap(), msg);
        }
    }
}

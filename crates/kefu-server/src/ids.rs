//! Identifiers kefu issues: appids, secrets, openids, tokens, push nonces. Random, in WeChat's
//! shapes.

/// Bytes from the operating system's generator. Failing to read it means the machine cannot
/// make secrets at all; there is nothing sensible to fall back to.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random generator is unavailable");
    bytes
}

/// A random seed (for a hash table's hasher).
pub fn seed() -> u64 {
    u64::from_le_bytes(random_bytes())
}

fn hex(n: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = random_bytes::<64>();
    bytes
        .iter()
        .take(n)
        .map(|b| HEX[usize::from(b % 16)] as char)
        .collect()
}

/// Characters WeChat uses in openids and tokens.
fn url_safe(n: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes::<64>() {
            if out.len() == n {
                break;
            }
            out.push(ALPHABET[usize::from(b % 64)] as char);
        }
    }
    out
}

/// `wx` + 16 hex digits.
pub fn appid() -> String {
    format!("wx{}", hex(16))
}

/// 32 hex digits.
pub fn secret() -> String {
    hex(32)
}

/// `gh_` + 12 hex digits: the account's `ToUserName` in pushes.
pub fn original_id() -> String {
    format!("gh_{}", hex(12))
}

/// 28 characters starting with `o`, like WeChat's.
pub fn openid() -> String {
    format!("o{}", url_safe(27))
}

pub fn user_id() -> String {
    format!("u_{}", hex(16))
}

/// An access token: long and opaque, as WeChat's are (clients reserve 512 characters).
pub fn access_token() -> String {
    url_safe(128)
}

/// The admin token of `/api/v1`.
pub fn admin_token() -> String {
    format!("kefu_{}", hex(40))
}

/// A push or URL-verification `nonce`: 9 or 10 random digits, like WeChat's.
pub fn nonce() -> String {
    let n = u64::from_le_bytes(random_bytes::<8>());
    // 100000000 ..= 9999999999: every value has 9 or 10 digits.
    (100_000_000 + n % 9_900_000_000).to_string()
}

/// The `echostr` of a URL verification: a long decimal number, as WeChat sends.
pub fn echostr() -> String {
    let n = u64::from_le_bytes(random_bytes::<8>());
    (1_000_000_000_000_000_000 + n % 9_000_000_000_000_000_000).to_string()
}

/// The 16 random bytes that open every AES-encrypted message (WECHAT.md §6.6).
pub fn aes_random16() -> [u8; 16] {
    random_bytes::<16>()
}

/// Letters and digits only.
fn alphanumeric(n: usize) -> String {
    url_safe(n * 2)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .chain(std::iter::repeat_with(|| 'A'))
        .take(n)
        .collect()
}

/// A QR code ticket in WeChat's shape (`gQ…==`, base64-looking). Letters and digits only
/// between the two, so that a client that forgets to URL-encode it (co-wechat-api's
/// `showQRCodeURL`) still names it right.
pub fn qr_ticket() -> String {
    format!("gQ{}==", alphanumeric(62))
}

/// What a QR code encodes: `https://weixin.qq.com/q/` and 22 characters, as WeChat's codes do.
pub fn qr_url() -> String {
    format!("https://weixin.qq.com/q/{}", alphanumeric(22))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let a = appid();
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("wx") && a[2..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(secret().len(), 32);
        assert!(original_id().starts_with("gh_") && original_id().len() == 15);
        let o = openid();
        assert_eq!(o.len(), 28);
        assert!(o.starts_with('o'));
        assert_eq!(access_token().len(), 128);
        assert_ne!(openid(), openid());
        for _ in 0..200 {
            let n = nonce();
            assert!((9..=10).contains(&n.len()), "{n}");
            assert!(n.chars().all(|c| c.is_ascii_digit()));
            assert_eq!(echostr().len(), 19);
        }
        let t = qr_ticket();
        assert!(t.starts_with("gQ") && t.ends_with("==") && t.len() == 66);
        assert!(t[2..64].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(qr_url().len(), "https://weixin.qq.com/q/".len() + 22);
    }
}

//! The rollout bucket of an account (RULES.md §4): a stable number in `0..10000` deciding at
//! which batch percentage the account moves. It is fixed forever, so it is a hash of the two ids
//! and nothing else (no seed, no randomness); the test vectors below were computed with an
//! independent SHA-256 (Python's `hashlib`) and must never change.

use sha2::{Digest, Sha256};

/// Buckets per rollout: a batch of `percent` moves the buckets below `percent × 100`.
pub const BUCKETS: u16 = 10_000;

/// The big-endian u64 of the first 8 bytes of
/// SHA-256(utf8(rollout id) ‖ 0x00 ‖ utf8(appid or corpid)), modulo 10000.
pub fn bucket(rollout_id: &str, account_id: &str) -> u16 {
    let digest = Sha256::new()
        .chain_update(rollout_id.as_bytes())
        .chain_update([0u8])
        .chain_update(account_id.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let b = u64::from_be_bytes(first) % u64::from(BUCKETS);
    // Below 10000, so it fits.
    u16::try_from(b).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (rollout id, account id, bucket), from
    /// `python3 -c 'import hashlib; d = hashlib.sha256(r.encode() + b"\x00" + a.encode()).digest();
    /// print(int.from_bytes(d[:8], "big") % 10000)'`.
    const VECTORS: [(&str, &str, u16); 9] = [
        ("wechat-2023-quota-change", "wx0123456789abcdef", 5707),
        ("wechat-2023-quota-change", "wxffffffffffffffff", 9142),
        ("wecom-2024-reply-only", "ww0123456789abcdef", 7405),
        ("rollout-1", "wx0000000000000001", 2886),
        ("rollout-1", "wx0000000000000002", 2429),
        ("r", "", 2983),
        ("", "a", 6266),
        ("", "", 3192),
        ("测试", "wx中文", 2358),
    ];

    #[test]
    fn fixed_test_vectors() {
        for (rollout, account, expected) in VECTORS {
            assert_eq!(bucket(rollout, account), expected, "{rollout} / {account}");
        }
    }

    #[test]
    fn the_separator_keeps_the_ids_apart() {
        // Without the 0x00 these two would hash the same bytes.
        assert_ne!(bucket("ab", "c"), bucket("a", "bc"));
    }
}

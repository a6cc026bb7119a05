//! Speed of the two hot wire paths, with a baseline measured in the same run (these machines
//! are shared and noisy: compare ratios, not absolute times).
//!
//! - a typical text push, as the delivery worker prepares it in safe mode: build the XML,
//!   AES-encrypt it, `msg_signature` and `signature`, wrap it in the envelope;
//! - a typical custom/send text body, parsed and validated (§4.3 steps 2–6);
//! - baselines: `serde_json::from_slice` of the same body, and the push XML alone.
//!
//! Run: `cargo bench -p kefu-wechat`.

use divan::{Bencher, black_box};
use kefu_wechat::{
    AesKey, Push, PushKind, SendScope, encrypt, encrypted_push_xml, msg_signature, signature,
    validate_custom_send, verify_and_decrypt,
};

fn main() {
    divan::main();
}

const SEND_BODY: &[u8] = r#"{"touser":"oVECTOR000000000000000000000","msgtype":"text","text":{"content":"您好，您的订单已发货，预计明天送达。如有问题请回复本消息。"},"customservice":{"kf_account":"test1@kftest"}}"#.as_bytes();

fn push() -> Push {
    Push {
        to_user: "gh_0123456789ab".into(),
        from_user: "oVECTOR000000000000000000000".into(),
        create_time: 1_700_000_000,
        kind: PushKind::Text {
            content: "你好，我想查询一下我的订单什么时候发货？订单号 20261124-0001".into(),
            msg_id: 7_300_000_000_000_000_001,
            bizmsgmenuid: None,
        },
    }
}

fn key() -> AesKey {
    AesKey::from_bytes(*b"0123456789abcdef0123456789abcdef")
}

#[divan::bench(sample_count = 2000, sample_size = 20)]
fn push_encrypt_and_sign(bencher: Bencher<'_, '_>) {
    let (push, key) = (push(), key());
    bencher.bench_local(|| {
        let xml = black_box(&push).to_xml();
        let enc = encrypt(
            &key,
            b"0123456789abcdef",
            xml.as_bytes(),
            "wx5c1e0d1a2b3c4d5e",
        );
        let ms = msg_signature("HarnessToken2024", "1700000000", "1234567890", &enc);
        let sig = signature("HarnessToken2024", "1700000000", "1234567890");
        (encrypted_push_xml(&push.to_user, &enc), ms, sig)
    });
}

#[divan::bench(sample_count = 2000, sample_size = 20)]
fn reply_verify_and_decrypt(bencher: Bencher<'_, '_>) {
    let key = key();
    let xml = push().to_xml();
    let enc = encrypt(
        &key,
        b"0123456789abcdef",
        xml.as_bytes(),
        "wx5c1e0d1a2b3c4d5e",
    );
    let ms = msg_signature("HarnessToken2024", "1700000000", "1234567890", &enc);
    bencher.bench_local(|| {
        verify_and_decrypt(
            &key,
            "HarnessToken2024",
            "1700000000",
            "1234567890",
            &ms,
            black_box(&enc),
            "wx5c1e0d1a2b3c4d5e",
        )
    });
}

#[divan::bench(sample_count = 2000, sample_size = 20)]
fn send_parse_and_validate() -> bool {
    validate_custom_send(black_box(SEND_BODY), SendScope::OfficialAccount).is_ok()
}

#[divan::bench(sample_count = 2000, sample_size = 20)]
fn baseline_push_xml_only(bencher: Bencher<'_, '_>) {
    let push = push();
    bencher.bench_local(|| black_box(&push).to_xml());
}

#[divan::bench(sample_count = 2000, sample_size = 20)]
fn baseline_serde_json_parse() -> bool {
    serde_json::from_slice::<serde_json::Value>(black_box(SEND_BODY)).is_ok()
}

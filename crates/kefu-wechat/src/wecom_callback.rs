//! WeCom callback bodies kefu pushes (WECHAT.md §11.2, §12.2, §14): the KF notification, the
//! customer-contact change event and the licence notice. Encrypt them and wrap the ciphertext
//! with [`crate::encrypted_wecom_push_xml`]; the URL-verification `echostr` is encrypted too.

use crate::xml::{bare, cdata};

/// `kf_msg_or_event`: a notification only; the developer pulls with `kf/sync_msg` using
/// `token` (valid 10 minutes, §11.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KfMsgOrEvent {
    /// The corpid.
    pub to_user: String,
    pub create_time: i64,
    pub token: String,
    pub open_kfid: String,
}

impl KfMsgOrEvent {
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<xml>");
        cdata(&mut out, "ToUserName", &self.to_user);
        bare(&mut out, "CreateTime", self.create_time);
        cdata(&mut out, "MsgType", "event");
        cdata(&mut out, "Event", "kf_msg_or_event");
        cdata(&mut out, "Token", &self.token);
        cdata(&mut out, "OpenKfId", &self.open_kfid);
        out.push_str("</xml>");
        out
    }
}

/// `change_external_contact` (§12.2): a customer was added, edited, deleted, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalContactChange {
    /// The corpid.
    pub to_user: String,
    pub create_time: i64,
    /// `add_external_contact`, `edit_external_contact`, `del_external_contact`,
    /// `add_half_external_contact`, `del_follow_user`, `transfer_fail`.
    pub change_type: String,
    /// The member.
    pub user_id: String,
    pub external_user_id: String,
    /// The `state` of the contact way the customer came through.
    pub state: Option<String>,
    /// For `add_external_contact`: lets the member send a welcome message within 20 s.
    pub welcome_code: Option<String>,
}

impl ExternalContactChange {
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(384);
        out.push_str("<xml>");
        cdata(&mut out, "ToUserName", &self.to_user);
        // System events come from "sys".
        cdata(&mut out, "FromUserName", "sys");
        bare(&mut out, "CreateTime", self.create_time);
        cdata(&mut out, "MsgType", "event");
        cdata(&mut out, "Event", "change_external_contact");
        cdata(&mut out, "ChangeType", &self.change_type);
        cdata(&mut out, "UserID", &self.user_id);
        cdata(&mut out, "ExternalUserID", &self.external_user_id);
        if let Some(state) = &self.state {
            cdata(&mut out, "State", state);
        }
        if let Some(code) = &self.welcome_code {
            cdata(&mut out, "WelcomeCode", code);
        }
        out.push_str("</xml>");
        out
    }
}

/// `unlicensed_notify` (§14): an unlicensed member opened the provider's app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlicensedNotify {
    pub to_user: String,
    pub from_user: String,
    pub create_time: i64,
    pub agent_id: i64,
}

impl UnlicensedNotify {
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<xml>");
        cdata(&mut out, "ToUserName", &self.to_user);
        cdata(&mut out, "FromUserName", &self.from_user);
        bare(&mut out, "CreateTime", self.create_time);
        cdata(&mut out, "MsgType", "event");
        cdata(&mut out, "Event", "unlicensed_notify");
        bare(&mut out, "AgentID", self.agent_id);
        out.push_str("</xml>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kf_notification() {
        let e = KfMsgOrEvent {
            to_user: "wwa5a0a021adfca6ec".into(),
            create_time: 1767855819,
            token: "ENC4KqRpSmXdoy8Nn1x34c2KnfhZVtqmoXkkUPNJmieFrR1".into(),
            open_kfid: "wk3BbTEQAAbgicNSiRSdSQO7NTzcsOYg".into(),
        };
        assert_eq!(
            e.to_xml(),
            "<xml><ToUserName><![CDATA[wwa5a0a021adfca6ec]]></ToUserName><CreateTime>1767855819</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[ENC4KqRpSmXdoy8Nn1x34c2KnfhZVtqmoXkkUPNJmieFrR1]]></Token><OpenKfId><![CDATA[wk3BbTEQAAbgicNSiRSdSQO7NTzcsOYg]]></OpenKfId></xml>"
        );
    }

    #[test]
    fn contact_change() {
        let e = ExternalContactChange {
            to_user: "ww1".into(),
            create_time: 1403610513,
            change_type: "add_external_contact".into(),
            user_id: "zhangsan".into(),
            external_user_id: "woAJ2GCAAAXtWyujaWJHDDGi0mACH71w".into(),
            state: Some("teststate".into()),
            welcome_code: Some("WELCOMECODE".into()),
        };
        assert_eq!(
            e.to_xml(),
            "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACH71w]]></ExternalUserID><State><![CDATA[teststate]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>"
        );
    }

    #[test]
    fn unlicensed() {
        let e = UnlicensedNotify {
            to_user: "toUser".into(),
            from_user: "FromUser".into(),
            create_time: 1408091189,
            agent_id: 1,
        };
        assert_eq!(
            e.to_xml(),
            "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[FromUser]]></FromUserName><CreateTime>1408091189</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unlicensed_notify]]></Event><AgentID>1</AgentID></xml>"
        );
    }
}

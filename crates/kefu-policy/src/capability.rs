//! WeCom capabilities (RULES.md §5): what an enterprise that is *not* entitled (over 2,000
//! external contacts without a valid contact scale) may still do under a rule set. The rule set
//! only records the table; deciding entitlement is a separate, later piece.

use crate::trigger::vocabulary;

vocabulary!(
    /// One thing an enterprise's members do with customers.
    Capability, "capability", {
        /// Adding a new external contact.
        AddContact = "add_contact",
        /// Inviting a customer into a customer group.
        InviteToGroup = "invite_to_group",
        /// A proactive 1:1 message, not answering the customer.
        SendProactive = "send_proactive",
        /// A 1:1 reply within 48 hours of the customer's message.
        SendReply = "send_reply",
        /// Mass sending (`add_msg_template`).
        MassSend = "mass_send",
        /// Managing customer groups.
        GroupManage = "group_manage",
        /// Viewing a customer's profile.
        ViewCustomer = "view_customer",
        /// Customer tools (tags, notes, ...).
        CustomerTools = "customer_tools",
        /// Posting to customers' moments.
        Moments = "moments",
        /// Succession of a resigned member's customers.
        Succession = "succession",
    }
);

vocabulary!(
    /// Whether an unentitled enterprise may use a capability.
    Access, "access", {
        Allowed = "allowed",
        Refused = "refused",
    }
);

//! WeChat's XML, both ways.
//!
//! Writing: WeChat's push style (WECHAT.md §6.2) — root `<xml>`, no declaration, no whitespace
//! between elements, strings in CDATA, numbers bare. Reading: a small element tree over
//! quick-xml that never panics; unknown elements are kept and simply never looked at.

use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// Appends `<name><![CDATA[value]]></name>`. A `]]>` inside the value ends the section early,
/// so it is split across two sections (`]]]]><![CDATA[>`), which every XML parser joins back.
pub(crate) fn cdata(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str("><![CDATA[");
    let mut rest = value;
    while let Some(at) = rest.find("]]>") {
        out.push_str(&rest[..at]);
        out.push_str("]]]]><![CDATA[>");
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out.push_str("]]></");
    out.push_str(name);
    out.push('>');
}

/// Appends `<name>value</name>` for a number (or any text known to need no escaping).
pub(crate) fn bare(out: &mut String, name: &str, value: impl std::fmt::Display) {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let _ = write!(out, "<{name}>{value}</{name}>");
}

pub(crate) fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

pub(crate) fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Why a document is not XML kefu can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the document is empty")]
    Empty,
    #[error("the document is not UTF-8")]
    NotUtf8,
    #[error("malformed XML: {0}")]
    Syntax(String),
    #[error("unknown entity &{0};")]
    UnknownEntity(String),
    #[error("an element is not closed")]
    Unclosed,
    #[error("content after the root element")]
    TrailingContent,
    #[error("elements nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Deeper than any WeChat document (news replies nest 3 levels); bounds memory on hostile input.
pub const MAX_DEPTH: usize = 32;

/// An element: its name, its text (CDATA and character data joined, entities resolved) and its
/// child elements in document order. Attributes are ignored: WeChat uses none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name` (names are case-sensitive, as WeChat's are).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// An element being read, with its text pieces: whitespace-only character data between child
/// elements or around a CDATA section is layout, not content.
struct Open {
    element: Element,
    pieces: Vec<(String, bool)>,
    saw_cdata: bool,
}

impl Open {
    fn new(name: String) -> Open {
        Open {
            element: Element {
                name,
                ..Element::default()
            },
            pieces: Vec::new(),
            saw_cdata: false,
        }
    }

    fn finish(mut self) -> Element {
        let drop_layout = self.saw_cdata || !self.element.children.is_empty();
        for (piece, is_layout) in self.pieces {
            if !(drop_layout && is_layout) {
                self.element.text.push_str(&piece);
            }
        }
        self.element
    }
}

/// Parses a whole document into its root element. Never panics.
pub fn parse(xml: &[u8]) -> Result<Element, XmlError> {
    let xml = xml.strip_prefix(b"\xef\xbb\xbf").unwrap_or(xml);
    let text = std::str::from_utf8(xml).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError::Syntax(e.to_string()))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError::TrailingContent);
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(Open::new(start.name().as_ref().to_owned()));
            }
            Event::Empty(start) => {
                let element = Element {
                    name: start.name().as_ref().to_owned(),
                    ..Element::default()
                };
                attach(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                // quick-xml checks that end names match their start.
                let open = stack
                    .pop()
                    .ok_or_else(|| XmlError::Syntax("unmatched end tag".into()))?;
                attach(&mut stack, &mut root, open.finish());
            }
            Event::Text(t) => {
                let piece = t.xml10_content().into_owned();
                match stack.last_mut() {
                    Some(open) => {
                        let layout = piece.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
                        open.pieces.push((piece, layout));
                    }
                    None if piece.trim().is_empty() => {}
                    None => return Err(XmlError::Syntax("text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                let piece = c.xml10_content().into_owned();
                let open = stack
                    .last_mut()
                    .ok_or_else(|| XmlError::Syntax("CDATA outside the root element".into()))?;
                open.saw_cdata = true;
                open.pieces.push((piece, false));
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match r.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(XmlError::UnknownEntity(other.to_owned())),
                    },
                    Err(e) => return Err(XmlError::Syntax(e.to_string())),
                };
                let open = stack
                    .last_mut()
                    .ok_or_else(|| XmlError::Syntax("reference outside the root element".into()))?;
                open.pieces.push((c.to_string(), false));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Unclosed);
    }
    root.ok_or(XmlError::Empty)
}

fn attach(stack: &mut [Open], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.element.children.push(element),
        None => *root = Some(element),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_splits_the_terminator() {
        let mut out = String::new();
        cdata(&mut out, "Content", "a]]>b]]>");
        assert_eq!(
            out,
            "<Content><![CDATA[a]]]]><![CDATA[>b]]]]><![CDATA[>]]></Content>"
        );
        let doc = parse(format!("<xml>{out}</xml>").as_bytes()).unwrap();
        assert_eq!(doc.child_text("Content"), Some("a]]>b]]>"));
    }

    #[test]
    fn reads_cdata_entities_and_layout() {
        let doc = parse(
            "\u{feff}<?xml version=\"1.0\"?>\n<xml>\n  <A><![CDATA[ x ]]></A>\n  <B>1 &lt; 2 &#x4f60;&#22909;</B>\n  <C>\n <![CDATA[y]]>\n</C><D/><E></E>\n  <N><item><T>t</T></item><item><T>u</T></item></N>\n</xml>\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(doc.name, "xml");
        assert_eq!(doc.child_text("A"), Some(" x "));
        assert_eq!(doc.child_text("B"), Some("1 < 2 你好"));
        assert_eq!(doc.child_text("C"), Some("y"));
        assert_eq!(doc.child_text("D"), Some(""));
        assert_eq!(doc.child_text("E"), Some(""));
        let items: Vec<_> = doc
            .child("N")
            .unwrap()
            .children_named("item")
            .map(|i| i.child_text("T"))
            .collect();
        assert_eq!(items, [Some("t"), Some("u")]);
        assert_eq!(doc.text, "");
    }

    #[test]
    fn rejects_bad_documents() {
        assert_eq!(parse(b""), Err(XmlError::Empty));
        assert_eq!(parse(b"  "), Err(XmlError::Empty));
        assert_eq!(parse(b"\xff<xml/>"), Err(XmlError::NotUtf8));
        assert!(parse(b"<xml><a></xml>").is_err());
        assert_eq!(parse(b"<xml><a>"), Err(XmlError::Unclosed));
        assert_eq!(parse(b"<xml/><xml/>"), Err(XmlError::TrailingContent));
        assert_eq!(
            parse(b"<xml>&nbsp;</xml>"),
            Err(XmlError::UnknownEntity("nbsp".into()))
        );
        assert!(parse(b"success").is_err());
        assert!(parse(b"{\"json\":1}").is_err());
        assert_eq!(
            parse("<a>".repeat(MAX_DEPTH + 1).as_bytes()),
            Err(XmlError::TooDeep)
        );
    }
}

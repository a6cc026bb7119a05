//! `GET /api/v1/openapi.json`: the OpenAPI 3 document of kefu's own API, built from the
//! declarations below.
//!
//! Each operation is declared once, with its fields in a small notation (`name`, `name:type`,
//! `name{a, b}` for an object, `name[{a, b}]` for a list of objects, `name=$Schema` for a shared
//! schema). The contract test (`tests/integration/openapi.rs`) checks that every path and field
//! of API.md's implemented sections appears in the document, and that every declared operation
//! is routed; a new endpoint or field is declared here when it is added.

use axum::Json;
use serde_json::{Map, Value, json};

mod ops;

use ops::{OPS, Op, SCHEMAS};

/// The document, built anew on each call (it is small).
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let entry = paths
            .entry(op.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(op.method.to_owned(), operation(op));
        }
    }
    let schemas: Map<String, Value> = SCHEMAS
        .iter()
        .map(|(name, fields)| ((*name).to_owned(), schema(fields)))
        .collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "kefu",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "kefu's own API (shared/API.md). Errors are \
                {\"error\": {\"code\", \"message\"}}; every /api/v1 call needs the admin token.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "admin": { "type": "http", "scheme": "bearer" } },
        },
        "security": [{ "admin": [] }],
    })
}

pub async fn serve() -> Json<Value> {
    Json(document())
}

fn operation(op: &Op) -> Value {
    let mut parameters: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect();
    parameters.extend(op.query.iter().map(|name| {
        json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}})
    }));
    let success = match (op.response, op.path) {
        (Some(fields), "/api/v1/traffic") => json!({
            "description": op.summary,
            "content": { "application/x-ndjson": { "schema": schema(fields) } },
        }),
        (Some(fields), _) => json!({
            "description": op.summary,
            "content": { "application/json": { "schema": schema(fields) } },
        }),
        (None, "/healthz" | "/metrics") => json!({
            "description": op.summary,
            "content": { "text/plain": { "schema": { "type": "string" } } },
        }),
        (None, _) => json!({ "description": op.summary }),
    };
    let mut operation = json!({
        "tags": [op.tag],
        "summary": op.summary,
        "parameters": parameters,
        "responses": {
            op.status.to_string(): success,
            "default": {
                "description": "a refusal: {\"error\": {\"code\", \"message\"}}",
                "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Error" } } },
            },
        },
    });
    if let Some(fields) = op.request {
        operation["requestBody"] = json!({
            "content": { "application/json": { "schema": schema(fields) } },
        });
    }
    if !op.path.starts_with("/api/v1/") {
        operation["security"] = json!([]);
    }
    operation
}

/// The schema of a field list, or of `$Name` alone.
fn schema(fields: &str) -> Value {
    let mut parser = Parser {
        text: fields.as_bytes(),
        at: 0,
    };
    let value = parser.value_or_object();
    debug_assert_eq!(parser.at, parser.text.len(), "trailing text in {fields:?}");
    value
}

/// The field notation, read once per document: `a, b:type, c{...}, d[{...}], e[$S], f=$S`.
struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        if self.text.get(self.at) == Some(&byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> String {
        self.skip_space();
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$')
        {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.text[start..self.at]).into_owned()
    }

    /// `$Name` or an object's fields.
    fn value_or_object(&mut self) -> Value {
        self.skip_space();
        if self.text.get(self.at) == Some(&b'$') {
            return reference(&self.word());
        }
        self.fields()
    }

    fn fields(&mut self) -> Value {
        let mut properties = Map::new();
        loop {
            let name = self.word();
            if name.is_empty() {
                break;
            }
            let schema = if self.eat(b':') {
                json!({ "type": self.word() })
            } else if self.eat(b'=') {
                reference(&self.word())
            } else if self.eat(b'{') {
                let inner = self.fields();
                self.eat(b'}');
                inner
            } else if self.eat(b'[') {
                let items = if self.eat(b'{') {
                    let inner = self.fields();
                    self.eat(b'}');
                    inner
                } else {
                    self.value_or_object()
                };
                self.eat(b']');
                json!({ "type": "array", "items": items })
            } else {
                json!({})
            };
            properties.insert(name, schema);
            if !self.eat(b',') {
                break;
            }
        }
        json!({ "type": "object", "properties": properties })
    }
}

fn reference(word: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", word.trim_start_matches('$')) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notation_reads_into_schemas() {
        assert_eq!(
            schema("a, b:string, c{d:integer}, e[{f}], g[$User], h=$Clock"),
            json!({"type": "object", "properties": {
                "a": {},
                "b": {"type": "string"},
                "c": {"type": "object", "properties": {"d": {"type": "integer"}}},
                "e": {"type": "array", "items": {"type": "object", "properties": {"f": {}}}},
                "g": {"type": "array", "items": {"$ref": "#/components/schemas/User"}},
                "h": {"$ref": "#/components/schemas/Clock"},
            }})
        );
        assert_eq!(
            schema("$Account"),
            json!({"$ref": "#/components/schemas/Account"})
        );
    }

    #[test]
    fn every_declaration_parses_whole_and_every_reference_resolves() {
        let doc = document().to_string();
        for (name, fields) in SCHEMAS {
            assert!(doc.contains(&format!("#/components/schemas/{name}")) || *name == "Error");
            let mut parser = Parser {
                text: fields.as_bytes(),
                at: 0,
            };
            parser.value_or_object();
            assert_eq!(parser.at, fields.len(), "{name}");
        }
        for op in OPS {
            for fields in [op.request, op.response].into_iter().flatten() {
                let mut parser = Parser {
                    text: fields.as_bytes(),
                    at: 0,
                };
                parser.value_or_object();
                assert_eq!(parser.at, fields.len(), "{} {}", op.method, op.path);
            }
        }
        for reference in doc.split("#/components/schemas/").skip(1) {
            let name: String = reference
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            assert!(SCHEMAS.iter().any(|(n, _)| *n == name), "{name}");
        }
    }
}

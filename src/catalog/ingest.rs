//! Streaming readers for product bodies: NDJSON and JSON arrays.
//!
//! A body is fed to a [`BodySplitter`] chunk by chunk as it arrives; the splitter hands back
//! each complete item's bytes with the line it started on, holding at most one partial item in
//! memory. That keeps a 100 MB upload at roughly its largest item in memory instead of ten
//! times its size. Parsing and validating an item ([`parse_item`]) is separate, so the same
//! code serves HTTP ingestion, catalog syncs and the offline `import` command.

use serde::Serialize;
use serde_json::Value;

use super::product::Product;
use crate::error::Error;

/// Which framing the body uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// One JSON value per line.
    Ndjson,
    /// A JSON array of values (a single top-level object is read as a one-item array).
    JsonArray,
}

/// One item cut out of a body, not yet parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RawItem {
    /// 1-based line of the body where the item starts.
    pub line: u64,
    /// The item's bytes, or why the body could not be split at this point.
    pub bytes: Result<Vec<u8>, String>,
}

/// Why one item of a body was rejected.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ItemError {
    /// 1-based line of the body where the item starts.
    pub line: u64,
    /// The item's id when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Machine-readable code (`invalid_field`, `malformed_json`).
    pub code: &'static str,
    /// Human-readable reason, naming the field.
    pub message: String,
}

/// Parses one raw item as JSON.
pub fn parse_json(item: RawItem) -> Result<Value, ItemError> {
    let malformed = |message| ItemError {
        line: item.line,
        id: None,
        code: "malformed_json",
        message,
    };
    let bytes = item.bytes.map_err(malformed)?;
    serde_json::from_slice(&bytes).map_err(|e| malformed(format!("invalid JSON: {e}")))
}

/// Parses and validates one raw item as a product.
pub fn parse_item(item: RawItem) -> Result<Product, ItemError> {
    let line = item.line;
    let value = parse_json(item)?;
    let id = value.get("id").and_then(Value::as_str).map(str::to_string);
    Product::from_json(value).map_err(|e| item_error(line, id, &e))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// JSON: before the opening `[` (or a lone object).
    Start,
    /// JSON: between items of the array.
    BetweenItems,
    /// JSON: inside an item.
    InItem,
    /// JSON: after the closing `]` or the lone object.
    Done,
    /// JSON: the body is broken; everything else is ignored.
    Broken,
}

/// Cuts a streamed body into items. Feed chunks with [`BodySplitter::feed`], then call
/// [`BodySplitter::finish`] once the body has ended.
#[derive(Debug)]
pub struct BodySplitter {
    format: BodyFormat,
    state: State,
    current: Vec<u8>,
    current_line: u64,
    line: u64,
    depth: u32,
    in_string: bool,
    escaped: bool,
    lone_object: bool,
    saw_content: bool,
}

impl BodySplitter {
    /// A splitter for the given framing.
    pub fn new(format: BodyFormat) -> Self {
        BodySplitter {
            format,
            state: State::Start,
            current: Vec::new(),
            current_line: 1,
            line: 1,
            depth: 0,
            in_string: false,
            escaped: false,
            lone_object: false,
            saw_content: false,
        }
    }

    /// Whether any non-whitespace byte has been seen.
    pub fn saw_content(&self) -> bool {
        self.saw_content
    }

    /// Consumes a chunk and appends the items it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<RawItem>) {
        match self.format {
            BodyFormat::Ndjson => self.feed_ndjson(chunk, out),
            BodyFormat::JsonArray => {
                for &b in chunk {
                    self.feed_json_byte(b, out);
                }
            }
        }
    }

    /// Ends the body and appends what remains (a last line, or an error for an unclosed array).
    pub fn finish(&mut self, out: &mut Vec<RawItem>) {
        match self.format {
            BodyFormat::Ndjson => self.end_line(out),
            BodyFormat::JsonArray => match self.state {
                State::Start | State::Done | State::Broken => {}
                State::BetweenItems | State::InItem => {
                    self.state = State::Broken;
                    out.push(RawItem {
                        line: self.line,
                        bytes: Err("unexpected end of body: the JSON array is not closed".into()),
                    });
                }
            },
        }
    }

    fn feed_ndjson(&mut self, chunk: &[u8], out: &mut Vec<RawItem>) {
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.current.extend_from_slice(&rest[..pos]);
            self.end_line(out);
            self.line += 1;
            self.current_line = self.line;
            rest = &rest[pos + 1..];
        }
        self.current.extend_from_slice(rest);
    }

    fn end_line(&mut self, out: &mut Vec<RawItem>) {
        let line = std::mem::take(&mut self.current);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.saw_content = true;
        out.push(RawItem {
            line: self.current_line,
            bytes: Ok(line),
        });
    }

    fn feed_json_byte(&mut self, b: u8, out: &mut Vec<RawItem>) {
        let is_space = b.is_ascii_whitespace();
        if !is_space {
            self.saw_content = true;
        }
        match self.state {
            State::Start => {
                if b == b'[' {
                    self.state = State::BetweenItems;
                } else if b == b'{' {
                    self.lone_object = true;
                    self.begin_item(b);
                } else if !is_space {
                    self.break_body("the body must be a JSON array of products", out);
                }
            }
            State::BetweenItems => {
                if b == b']' {
                    self.state = State::Done;
                } else if !is_space && b != b',' {
                    self.begin_item(b);
                }
            }
            State::InItem => self.continue_item(b, out),
            State::Done => {
                if !is_space {
                    self.break_body("unexpected content after the end of the JSON array", out);
                }
            }
            State::Broken => {}
        }
        if b == b'\n' {
            self.line += 1;
        }
    }

    fn begin_item(&mut self, b: u8) {
        self.state = State::InItem;
        self.current_line = self.line;
        self.current.clear();
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
        self.continue_item_structure(b);
        self.current.push(b);
    }

    fn continue_item(&mut self, b: u8, out: &mut Vec<RawItem>) {
        // A scalar item (depth 0, outside a string) ends at a separator.
        if self.depth == 0 && !self.in_string && (b == b',' || b == b']' || b.is_ascii_whitespace())
        {
            self.emit(out);
            self.state = if b == b']' {
                State::Done
            } else {
                State::BetweenItems
            };
            return;
        }
        self.current.push(b);
        self.continue_item_structure(b);
        if self.depth == 0 && !self.in_string && (b == b'}' || b == b']') {
            self.emit(out);
            self.state = if self.lone_object {
                State::Done
            } else {
                State::BetweenItems
            };
        }
    }

    fn continue_item_structure(&mut self, b: u8) {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
    }

    fn emit(&mut self, out: &mut Vec<RawItem>) {
        out.push(RawItem {
            line: self.current_line,
            bytes: Ok(std::mem::take(&mut self.current)),
        });
    }

    fn break_body(&mut self, message: &str, out: &mut Vec<RawItem>) {
        self.state = State::Broken;
        out.push(RawItem {
            line: self.line,
            bytes: Err(message.to_string()),
        });
    }
}

/// Turns an [`Error`] about a whole item into an [`ItemError`] at `line`.
pub fn item_error(line: u64, id: Option<String>, error: &Error) -> ItemError {
    ItemError {
        line,
        id,
        code: error.code(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(format: BodyFormat, body: &str, chunk: usize) -> Vec<(u64, Result<String, String>)> {
        let mut s = BodySplitter::new(format);
        let mut out = Vec::new();
        for piece in body.as_bytes().chunks(chunk) {
            s.feed(piece, &mut out);
        }
        s.finish(&mut out);
        out.into_iter()
            .map(|i| (i.line, i.bytes.map(|b| String::from_utf8(b).unwrap())))
            .collect()
    }

    #[test]
    fn ndjson_lines_keep_their_line_numbers_and_skip_blank_lines() {
        let body = "{\"id\":\"a\"}\n\n  \n{\"id\":\"b\"}\r\n{\"id\":\"c\"}";
        for chunk in [1, 3, 100] {
            let items = split(BodyFormat::Ndjson, body, chunk);
            let lines: Vec<u64> = items.iter().map(|i| i.0).collect();
            assert_eq!(lines, vec![1, 4, 5], "chunk size {chunk}");
        }
    }

    #[test]
    fn a_json_array_is_split_into_items_whatever_the_chunking() {
        let body = "[\n {\"id\": \"a\", \"t\": \"x]}\\\"\"},\n {\"id\": \"b\", \"n\": [1, {\"c\": 2}]}\n]\n";
        for chunk in [1, 2, 7, 1000] {
            let items = split(BodyFormat::JsonArray, body, chunk);
            assert_eq!(items.len(), 2, "chunk size {chunk}");
            assert_eq!(
                items[0],
                (2, Ok("{\"id\": \"a\", \"t\": \"x]}\\\"\"}".to_string()))
            );
            assert_eq!(items[1].0, 3);
        }
    }

    #[test]
    fn scalars_in_an_array_become_items_that_fail_validation() {
        let items = split(BodyFormat::JsonArray, "[1, \"x\", {\"id\":\"a\"}]", 4);
        let texts: Vec<String> = items.into_iter().map(|i| i.1.unwrap()).collect();
        assert_eq!(texts, vec!["1", "\"x\"", "{\"id\":\"a\"}"]);
    }

    #[test]
    fn a_lone_object_is_one_item() {
        let items = split(BodyFormat::JsonArray, " {\"id\":\"a\"} ", 3);
        assert_eq!(items, vec![(1, Ok("{\"id\":\"a\"}".to_string()))]);
    }

    #[test]
    fn an_unclosed_array_reports_an_error_at_its_end() {
        let items = split(BodyFormat::JsonArray, "[{\"id\":\"a\"},\n{\"id\":", 5);
        assert_eq!(items.len(), 2);
        assert!(items[1].1.as_ref().unwrap_err().contains("not closed"));
        assert_eq!(items[1].0, 2);
    }

    #[test]
    fn trailing_garbage_after_the_array_is_reported() {
        let items = split(BodyFormat::JsonArray, "[{\"id\":\"a\"}] x", 5);
        assert!(items[1].1.as_ref().unwrap_err().contains("after the end"));
    }

    #[test]
    fn a_body_that_is_not_an_array_is_reported_once() {
        let items = split(BodyFormat::JsonArray, "hello world", 5);
        assert_eq!(items.len(), 1);
        assert!(items[0].1.is_err());
    }

    #[test]
    fn parse_item_names_the_line_and_the_id() {
        let err = parse_item(RawItem {
            line: 7,
            bytes: Ok(br#"{"id":"p1","title":"T","price":-2}"#.to_vec()),
        })
        .unwrap_err();
        assert_eq!(err.line, 7);
        assert_eq!(err.id.as_deref(), Some("p1"));
        assert_eq!(err.code, "invalid_field");
        assert!(err.message.starts_with("price:"), "{}", err.message);
        let err = parse_item(RawItem {
            line: 2,
            bytes: Ok(b"{oops".to_vec()),
        })
        .unwrap_err();
        assert_eq!(err.code, "malformed_json");
    }
}

//! Conditional requests (RFC 9110 §13): entity tags for tasks and lists, `If-None-Match` on reads
//! (304), `If-Match` on changes (412 when stale).
//!
//! A task's tag is its version, which the database moves on every change: `"7"`. A list's tag is
//! a hash of exactly what it answered — the query, and each task's id and version in order — so an
//! unchanged list is recognised without storing anything.

use crate::tasks::Precondition;

/// The strong entity tag of a task at `version`, quotes included. Built without `format!`: it
/// is made for every task of every answer.
pub fn etag_of(version: i64) -> String {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(version);
    let mut tag = String::with_capacity(digits.len() + 2);
    tag.push('"');
    tag.push_str(digits);
    tag.push('"');
    tag
}

/// The entity tag of a list answer, `"l-<16 hex digits>"`, made as the list is written: the
/// query, then each task's id and entity tag in order.
pub struct ListEtag {
    hash: u64,
}

impl ListEtag {
    pub fn new(query: &str) -> Self {
        // FNV-1a: stable across builds and platforms (std's hasher is not), and this is a cache
        // validator, not a secret.
        let mut etag = ListEtag {
            hash: 0xcbf2_9ce4_8422_2325,
        };
        etag.feed(query.as_bytes());
        etag
    }

    pub fn add(&mut self, id: i64, version: i64) {
        self.feed(b"\n");
        self.feed(&id.to_le_bytes());
        self.feed(b"\"");
        self.feed(itoa::Buffer::new().format(version).as_bytes());
        self.feed(b"\"");
    }

    pub fn finish(self) -> String {
        format!("\"l-{:016x}\"", self.hash)
    }

    fn feed(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.hash ^= u64::from(*byte);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The tags of an `If-Match` / `If-None-Match` value: `*`, or entity tags separated by commas.
enum Tags<'a> {
    Any,
    List(Vec<Tag<'a>>),
}

struct Tag<'a> {
    weak: bool,
    opaque: &'a str,
}

fn parse(header: &str) -> Tags<'_> {
    if header.trim() == "*" {
        return Tags::Any;
    }
    let tags = header
        .split(',')
        .filter_map(|tag| {
            let tag = tag.trim();
            let (weak, quoted) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let opaque = quoted.strip_prefix('"')?.strip_suffix('"')?;
            Some(Tag { weak, opaque })
        })
        .collect();
    Tags::List(tags)
}

/// `If-Match` as a precondition on the task's version. Strong comparison: a weak tag never
/// matches, and neither does anything that is not a tag of ours.
pub fn precondition(if_match: Option<&str>) -> Precondition {
    match if_match.map(parse) {
        None | Some(Tags::Any) => Precondition::Any,
        Some(Tags::List(tags)) => Precondition::OneOf(
            tags.iter()
                .filter(|tag| !tag.weak)
                .filter_map(|tag| tag.opaque.parse().ok())
                .collect(),
        ),
    }
}

/// Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 says for this header):
/// the client's copy is current, and a read answers 304.
pub fn none_match_hits(if_none_match: Option<&str>, etag: &str) -> bool {
    let current = etag.trim_matches('"');
    match if_none_match.map(parse) {
        None => false,
        Some(Tags::Any) => true,
        Some(Tags::List(tags)) => tags.iter().any(|tag| tag.opaque == current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_tag_is_its_version_in_quotes() {
        assert_eq!(etag_of(7), "\"7\"");
        assert_eq!(etag_of(1_234_567_890_123), "\"1234567890123\"");
    }

    #[test]
    fn a_list_tag_hashes_the_query_then_each_task_id_and_tag() {
        // FNV-1a over the query, then "\n", the id's little-endian bytes and the task's own tag:
        // the value a client kept from an earlier answer stays valid.
        let fnv = |bytes: &[u8]| {
            bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
            })
        };
        let mut fed = b"completed=false".to_vec();
        let mut etag = ListEtag::new("completed=false");
        for (id, version) in [(3_i64, 1_i64), (-1, i64::MAX), (9, 0)] {
            fed.push(b'\n');
            fed.extend_from_slice(&id.to_le_bytes());
            fed.extend_from_slice(etag_of(version).as_bytes());
            etag.add(id, version);
        }
        assert_eq!(etag.finish(), format!("\"l-{:016x}\"", fnv(&fed)));
        assert_eq!(ListEtag::new("").finish(), format!("\"l-{:016x}\"", fnv(b"")));
    }

    #[test]
    fn if_match_names_versions_strongly() {
        assert_eq!(precondition(None), Precondition::Any);
        assert_eq!(precondition(Some("*")), Precondition::Any);
        assert_eq!(precondition(Some(r#""3""#)), Precondition::OneOf(vec![3]));
        assert_eq!(precondition(Some(r#""3", "5" ,"x""#)), Precondition::OneOf(vec![3, 5]));
        // Weak tags, unquoted values and list tags never match a task.
        assert_eq!(precondition(Some(r#"W/"3""#)), Precondition::OneOf(vec![]));
        assert_eq!(precondition(Some("3")), Precondition::OneOf(vec![]));
        assert_eq!(precondition(Some(r#""l-00ff""#)), Precondition::OneOf(vec![]));
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(none_match_hits(Some(r#""3""#), r#""3""#));
        assert!(none_match_hits(Some(r#"W/"3""#), r#""3""#));
        assert!(none_match_hits(Some(r#""1", "3""#), r#""3""#));
        assert!(none_match_hits(Some("*"), r#""3""#));
        assert!(!none_match_hits(Some(r#""4""#), r#""3""#));
        assert!(!none_match_hits(None, r#""3""#));
    }
}

//! The streaming CLIXML deserializer: XML events straight into [`PsValue`]s, no intermediate tree.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};
use std::fmt;
use std::sync::Arc;

use crate::clixml::error::ClixmlError;
use crate::clixml::escape;
use crate::clixml::scan::{self, Event, OpenStack, Scanner, Tag};

mod kind;
mod shape;
use crate::clixml::value::{Container, PsObject, PsProgressRecord, PsProperty, PsValue};
use kind::TextKind;
use shape::Shape;

/// Bounds on what one document may make the deserializer allocate or do. Every bound is checked before the work
/// it guards; exceeding one is a typed [`ClixmlError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeserializeLimits {
    /// Nesting of values inside values (an `Obj` in an `MS` in an `Obj` …). PowerShell's own serializer stops at
    /// depth 1–2 for most types; 100 leaves room for deep hashtables.
    pub max_depth: usize,
    /// `RefId`s (object and type-name lists) one document may define.
    pub max_ref_ids: usize,
    /// Bytes of text in one value (after escapes are resolved).
    pub max_string_len: usize,
    /// `Obj` elements in one document (and values an `<Objs>` stream may yield).
    pub max_objects: usize,
}

impl Default for DeserializeLimits {
    fn default() -> Self {
        DeserializeLimits { max_depth: 100, max_ref_ids: 100_000, max_string_len: 64 << 20, max_objects: 1_000_000 }
    }
}

/// Deserializes one CLIXML value (a PSRP message body) with default limits.
///
/// A leading UTF-8 BOM and surrounding whitespace are accepted, as PowerShell writes the first and pypsrp omits it.
pub fn from_clixml(xml: &[u8]) -> Result<PsValue, ClixmlError> {
    Deserializer::new(DeserializeLimits::default()).deserialize(xml)
}

/// Reusable deserializer state: limits, and caches of property names and type-name lists that make the
/// thousandth object of a stream cheaper than the first.
///
/// `RefId`s are scoped to one document (one PSRP message), as PowerShell numbers them; the caches only share
/// immutable strings.
#[derive(Debug)]
pub struct Deserializer {
    limits: DeserializeLimits,
    // FxHash: these caches sit on the per-element path, and each holds at most CACHE_LIMIT entries, so a peer
    // that crafts colliding keys can slow a lookup to at most a scan of that bound.
    names: FxHashSet<Arc<str>>,
    type_lists: FxHashMap<String, Arc<[String]>>,
    /// The member names of the member list read last, by position: objects of a stream list the same members in
    /// the same order, so most names are found here by one short comparison, without hashing.
    recent_names: Vec<Arc<str>>,
    /// The shapes of the flat objects read last (see the `shape` module).
    shapes: Vec<Shape>,
    /// Per-document tables, emptied after each document and kept so the next one allocates none of them.
    scratch: Scratch,
}

/// How many member positions [`Deserializer::recent_names`] remembers.
const RECENT_NAMES: usize = 64;

/// The per-document working storage of a [`Parser`].
#[derive(Default)]
struct Scratch {
    stack: OpenStack,
    objects: RefTable<Arc<PsObject>>,
    type_refs: RefTable<Arc<[String]>>,
    /// Members being read, shared by nested `MS`/`Props` in stack order so each list is allocated once, exactly.
    members: Vec<PsProperty>,
    /// The objects being read, innermost last.
    open: Vec<Open>,
}

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scratch").finish_non_exhaustive()
    }
}

/// Scratch storage larger than this (in elements) is freed rather than kept for the next document, so one huge
/// document does not pin its memory for the life of the deserializer.
const SCRATCH_KEEP: usize = 1024;

impl Scratch {
    /// Empties every table, keeping the allocations that are small.
    fn recycle(&mut self) {
        fn keep<T>(v: &mut Vec<T>) {
            v.clear();
            if v.capacity() > SCRATCH_KEEP {
                *v = Vec::new();
            }
        }
        keep(&mut self.stack);
        keep(&mut self.members);
        keep(&mut self.open);
        self.objects.clear();
        self.type_refs.clear();
    }
}

/// How many distinct names and type-name lists are cached; beyond it, new ones are simply allocated.
const CACHE_LIMIT: usize = 4096;

/// How far a `<TN>` list is searched for its end before it is read the slow way (a list of PowerShell's longest
/// type names fits many times over); the bound keeps hostile input from making every `<TN>` scan the document.
const TN_SEARCH_WINDOW: usize = 4096;

impl Deserializer {
    /// A deserializer with these limits.
    pub fn new(limits: DeserializeLimits) -> Self {
        Deserializer {
            limits,
            names: FxHashSet::default(),
            type_lists: FxHashMap::default(),
            recent_names: Vec::new(),
            shapes: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &DeserializeLimits {
        &self.limits
    }

    /// Deserializes one value; see [`from_clixml`].
    pub fn deserialize(&mut self, xml: &[u8]) -> Result<PsValue, ClixmlError> {
        let mut parser = Parser::new(self, strip_bom(xml));
        let value = match parser.next_top_level()? {
            Some((event, empty, _)) => parser.value(&event, empty, 0)?,
            None => return Err(ClixmlError::Empty),
        };
        if parser.next_top_level()?.is_some() {
            return Err(ClixmlError::TrailingContent);
        }
        Ok(value)
    }

    /// Reads an `<Objs>` document (Export-Clixml, `pwsh -OutputFormat xml`) one value at a time. The `#< CLIXML`
    /// line pwsh writes before such a document is skipped.
    pub fn objs<'d, 'x>(&'d mut self, xml: &'x [u8]) -> ObjsReader<'d, 'x> {
        let xml = strip_bom(xml);
        let xml = match xml.strip_prefix(b"#< CLIXML") {
            Some(rest) => rest.strip_prefix(b"\r").unwrap_or(rest).strip_prefix(b"\n").unwrap_or(rest),
            None => xml,
        };
        ObjsReader { parser: Parser::new(self, xml), state: ObjsState::Start, yielded: 0 }
    }
}

impl Default for Deserializer {
    fn default() -> Self {
        Deserializer::new(DeserializeLimits::default())
    }
}

fn strip_bom(xml: &[u8]) -> &[u8] {
    xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjsState {
    Start,
    Inside,
    Done,
}

/// One top-level value of an `<Objs>` document.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamValue {
    /// The stream it was written to (`S="Error"`, `S="progress"`, …); `None` for output.
    pub stream: Option<String>,
    /// The value.
    pub value: PsValue,
}

/// An iterator over the values of an `<Objs>` document; each is deserialized only when asked for.
pub struct ObjsReader<'d, 'x> {
    parser: Parser<'d, 'x>,
    state: ObjsState,
    yielded: usize,
}

impl fmt::Debug for ObjsReader<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjsReader").field("state", &self.state).field("yielded", &self.yielded).finish()
    }
}

impl Iterator for ObjsReader<'_, '_> {
    type Item = Result<StreamValue, ClixmlError>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.step();
        match result {
            Ok(Some(value)) => Some(Ok(value)),
            Ok(None) => {
                self.state = ObjsState::Done;
                None
            }
            Err(e) => {
                self.state = ObjsState::Done;
                Some(Err(e))
            }
        }
    }
}

impl ObjsReader<'_, '_> {
    fn step(&mut self) -> Result<Option<StreamValue>, ClixmlError> {
        loop {
            match self.state {
                ObjsState::Done => return Ok(None),
                ObjsState::Start => match self.parser.next_top_level()? {
                    Some((e, empty, position)) => {
                        if e.local_name() != "Objs" {
                            return Err(ClixmlError::UnexpectedElement { position, tag: tag_name(&e) });
                        }
                        if empty {
                            self.state = ObjsState::Done;
                            return if self.parser.next_top_level()?.is_some() {
                                Err(ClixmlError::TrailingContent)
                            } else {
                                Ok(None)
                            };
                        }
                        self.state = ObjsState::Inside;
                    }
                    None => return Err(ClixmlError::Empty),
                },
                ObjsState::Inside => match self.parser.next_child()? {
                    Some((e, empty, _)) => {
                        self.yielded += 1;
                        if self.yielded > self.parser.de.limits.max_objects {
                            return Err(ClixmlError::TooManyObjects { limit: self.parser.de.limits.max_objects });
                        }
                        // RefIds are scoped to the whole <Objs> document, as Export-Clixml writes them.
                        let stream = e.attribute("S")?.map(|s| escape::decode(&s).into_owned());
                        let value = self.parser.value(&e, empty, 1)?;
                        return Ok(Some(StreamValue { stream, value }));
                    }
                    None => {
                        self.state = ObjsState::Done;
                        if self.parser.next_top_level()?.is_some() {
                            return Err(ClixmlError::TrailingContent);
                        }
                        return Ok(None);
                    }
                },
            }
        }
    }
}

/// `RefId` → value. PowerShell numbers RefIds 0, 1, 2, … per document, so small ids index a vector; others (any
/// id a peer may choose) go to an ordered map, which no choice of ids can degrade and which costs nothing to
/// create for the many documents that never use it. Either way the table holds at most `max_ref_ids` entries.
struct RefTable<T> {
    dense: Vec<Option<T>>,
    /// Created on the first id past the dense range, which PowerShell never writes.
    sparse: Option<BTreeMap<u32, T>>,
    len: usize,
}

impl<T> Default for RefTable<T> {
    fn default() -> Self {
        RefTable { dense: Vec::new(), sparse: None, len: 0 }
    }
}

/// RefIds below this index the vector.
const DENSE_REF_IDS: u32 = 1024;

impl<T> RefTable<T> {
    fn get(&self, id: &u32) -> Option<&T> {
        if *id < DENSE_REF_IDS {
            self.dense.get(*id as usize).and_then(Option::as_ref)
        } else {
            self.sparse.as_ref()?.get(id)
        }
    }

    fn insert(&mut self, id: u32, value: T) {
        let fresh = if id < DENSE_REF_IDS {
            let index = id as usize;
            if self.dense.len() <= index {
                self.dense.resize_with(index + 1, || None);
            }
            self.dense[index].replace(value).is_none()
        } else {
            self.sparse.get_or_insert_default().insert(id, value).is_none()
        };
        self.len += usize::from(fresh);
    }

    fn len(&self) -> usize {
        self.len
    }

    fn clear(&mut self) {
        self.dense.clear();
        self.sparse = None;
        self.len = 0;
    }
}

/// One object still being read: what a cyclic `<Ref>` to it resolves to.
struct Open {
    ref_id: Option<u32>,
    type_names: Option<Arc<[String]>>,
    to_string: Option<String>,
}

struct Parser<'d, 'x> {
    de: &'d mut Deserializer,
    scanner: Scanner<'x>,
    /// The deserializer's per-document tables, lent for this document.
    scratch: Scratch,
    object_count: usize,
}

impl Drop for Parser<'_, '_> {
    fn drop(&mut self) {
        self.scratch.stack = self.scanner.take_stack();
        self.scratch.recycle();
        std::mem::swap(&mut self.de.scratch, &mut self.scratch);
    }
}

fn tag_name(e: &Tag<'_>) -> String {
    e.local_name().to_owned()
}

fn xml_error(position: u64, error: impl fmt::Display) -> ClixmlError {
    ClixmlError::Xml { position, message: error.to_string() }
}

impl<'d, 'x> Parser<'d, 'x> {
    fn new(de: &'d mut Deserializer, input: &'x [u8]) -> Self {
        let mut scratch = std::mem::take(&mut de.scratch);
        let scanner = Scanner::with_stack(input, std::mem::take(&mut scratch.stack));
        Parser { de, scanner, scratch, object_count: 0 }
    }

    fn position(&self) -> u64 {
        self.scanner.position()
    }

    /// The next element outside any value: skips the declaration, comments, processing instructions and
    /// whitespace; `None` at the end of input.
    fn next_top_level(&mut self) -> Result<Option<(Tag<'x>, bool, u64)>, ClixmlError> {
        loop {
            match self.scanner.next()? {
                Event::Start(e) => return Ok(Some((e, false, e.position))),
                Event::Empty(e) => return Ok(Some((e, true, e.position))),
                Event::Text(t) if t.is_blank() => {}
                Event::Text(_) | Event::CData(_) => return Err(ClixmlError::TrailingContent),
                Event::End => return Err(xml_error(self.position(), "unbalanced end tag")),
                Event::Eof => return Ok(None),
            }
        }
    }

    /// The next child element of the current element, or `None` at its end tag. Text between children is
    /// ignored (it is indentation), but its references must still be valid.
    fn next_child(&mut self) -> Result<Option<(Tag<'x>, bool, u64)>, ClixmlError> {
        loop {
            match self.scanner.next()? {
                Event::Start(e) => return Ok(Some((e, false, e.position))),
                Event::Empty(e) => return Ok(Some((e, true, e.position))),
                Event::End => return Ok(None),
                Event::Eof => return Err(ClixmlError::Truncated),
                Event::Text(text) => {
                    text.decode(self.position())?;
                }
                Event::CData(_) => {}
            }
        }
    }

    /// The text content of the current element up to its end tag.
    fn text(&mut self, empty: bool) -> Result<Cow<'x, str>, ClixmlError> {
        Ok(self.content(empty)?.0)
    }

    /// The text content of the current element up to its end tag, and whether it may hold a `_xHHHH_` escape.
    /// The common case, one piece of text with nothing to decode, borrows the input.
    fn content(&mut self, empty: bool) -> Result<(Cow<'x, str>, bool), ClixmlError> {
        let mut text: Cow<'x, str> = Cow::Borrowed("");
        let mut may_escape = false;
        if empty {
            return Ok((text, may_escape));
        }
        loop {
            let position = self.position();
            let piece = match self.scanner.next()? {
                Event::Text(raw) => {
                    may_escape |= raw.may_escape();
                    raw.decode(position)?
                }
                Event::CData(literal) => {
                    may_escape = true;
                    Cow::Borrowed(literal)
                }
                Event::End => break,
                Event::Start(e) | Event::Empty(e) => {
                    return Err(ClixmlError::UnexpectedElement { position, tag: tag_name(&e) });
                }
                Event::Eof => return Err(ClixmlError::Truncated),
            };
            if text.is_empty() {
                text = piece;
            } else {
                text.to_mut().push_str(&piece);
            }
            if text.len() > self.de.limits.max_string_len {
                return Err(ClixmlError::StringTooLong { limit: self.de.limits.max_string_len });
            }
        }
        Ok((text, may_escape))
    }

    fn ref_id(&self, e: &Tag<'x>, tag: &'static str) -> Result<Option<u32>, ClixmlError> {
        match e.attribute("RefId")? {
            None => Ok(None),
            Some(text) => {
                text.trim().parse().map(Some).map_err(|_| ClixmlError::BadAttribute { tag, attribute: "RefId" })
            }
        }
    }

    /// The decoded `N` attribute of a member, shared through the name cache.
    fn name(&mut self, e: &Tag<'x>) -> Result<Option<Arc<str>>, ClixmlError> {
        let Some(raw) = e.raw_attribute("N")? else { return Ok(None) };
        self.cached_name(raw, e.position).map(Some)
    }

    /// The member name of the `index`th member of a list, through the recent names and the name cache.
    fn member_name(&mut self, e: &Tag<'x>, index: usize) -> Result<Arc<str>, ClixmlError> {
        let Some(raw) = e.raw_attribute("N")? else { return Ok(Arc::from("")) };
        if let Some(recent) = self.de.recent_names.get(index)
            && raw.is_literal()
            && **recent == *raw.raw()
        {
            return Ok(recent.clone());
        }
        let name = self.cached_name(raw, e.position)?;
        if index < self.de.recent_names.len() {
            self.de.recent_names[index] = name.clone();
        } else if index == self.de.recent_names.len() && index < RECENT_NAMES {
            self.de.recent_names.push(name.clone());
        }
        Ok(name)
    }

    /// A decoded name, shared through the name cache.
    fn cached_name(&mut self, raw: scan::Text<'x>, position: u64) -> Result<Arc<str>, ClixmlError> {
        let xml_decoded = raw.decode(position)?;
        let decoded =
            if raw.may_escape() { Cow::Owned(escape::decode(&xml_decoded).into_owned()) } else { xml_decoded };
        if let Some(cached) = self.de.names.get(decoded.as_ref()) {
            return Ok(cached.clone());
        }
        let name: Arc<str> = Arc::from(decoded.as_ref());
        if self.de.names.len() < CACHE_LIMIT {
            self.de.names.insert(name.clone());
        }
        Ok(name)
    }

    fn count_ref_id(&self) -> Result<(), ClixmlError> {
        if self.scratch.objects.len() + self.scratch.type_refs.len() >= self.de.limits.max_ref_ids {
            return Err(ClixmlError::TooManyRefIds { limit: self.de.limits.max_ref_ids });
        }
        Ok(())
    }

    /// Reads the value whose start tag is `e`.
    fn value(&mut self, e: &Tag<'x>, empty: bool, depth: usize) -> Result<PsValue, ClixmlError> {
        if depth >= self.de.limits.max_depth {
            return Err(ClixmlError::TooDeep { limit: self.de.limits.max_depth });
        }
        let position = self.position();
        let tag = e.local_name();
        if let Some(kind) = TextKind::of(tag) {
            let (text, may_escape) = self.content(empty)?;
            return kind.value(text, may_escape, position);
        }
        match tag {
            "Obj" => self.object(e, empty, depth),
            "Ref" => {
                let id = self.ref_id(e, "Ref")?.ok_or(ClixmlError::BadAttribute { tag: "Ref", attribute: "RefId" })?;
                self.text(empty)?;
                self.resolve_ref(id)
            }
            "PR" if !empty => Ok(PsValue::ProgressRecord(Box::new(self.progress_record(depth)?))),
            _ => Err(ClixmlError::UnknownElement { position, tag: tag_name(e) }),
        }
    }

    /// The children of a `<PR>`, in PowerShell's fixed order.
    fn progress_record(&mut self, depth: usize) -> Result<PsProgressRecord, ClixmlError> {
        let mut record = PsProgressRecord {
            activity: String::new(),
            activity_id: 0,
            current_operation: None,
            parent_activity_id: -1,
            percent_complete: -1,
            record_type: String::new(),
            seconds_remaining: -1,
            status_description: String::new(),
        };
        while let Some((child, child_empty, position)) = self.next_child()? {
            let number = |text: &str, tag: &'static str| {
                text.trim().parse::<i32>().map_err(|_| ClixmlError::InvalidValue { position, tag })
            };
            match child.local_name() {
                "AV" => record.activity = self.string(child_empty)?,
                "AI" => record.activity_id = number(&self.text(child_empty)?, "AI")?,
                "PI" => record.parent_activity_id = number(&self.text(child_empty)?, "PI")?,
                "PC" => record.percent_complete = number(&self.text(child_empty)?, "PC")?,
                "T" => record.record_type = self.string(child_empty)?,
                "SR" => record.seconds_remaining = number(&self.text(child_empty)?, "SR")?,
                "SD" => record.status_description = self.string(child_empty)?,
                "Nil" | "S" => {
                    record.current_operation = self.value(&child, child_empty, depth + 1)?.as_str().map(str::to_owned)
                }
                _ => return Err(ClixmlError::UnexpectedElement { position, tag: tag_name(&child) }),
            }
        }
        Ok(record)
    }

    fn string(&mut self, empty: bool) -> Result<String, ClixmlError> {
        let (text, may_escape) = self.content(empty)?;
        if !may_escape {
            return Ok(text.into_owned());
        }
        Ok(match escape::decode(&text) {
            Cow::Borrowed(_) => text.into_owned(),
            Cow::Owned(decoded) => decoded,
        })
    }

    fn resolve_ref(&self, id: u32) -> Result<PsValue, ClixmlError> {
        if let Some(object) = self.scratch.objects.get(&id) {
            return Ok(PsValue::Object(object.clone()));
        }
        // A reference to an object that is still being read is a cycle (an object that contains itself). The
        // cycle is cut: the reference becomes a shallow copy with the type names and ToString read so far.
        if let Some(open) = self.scratch.open.iter().find(|o| o.ref_id == Some(id)) {
            return Ok(PsValue::Object(Arc::new(PsObject {
                type_names: open.type_names.clone(),
                to_string: open.to_string.clone(),
                ..PsObject::default()
            })));
        }
        Err(ClixmlError::UnknownRef(id))
    }

    fn object(&mut self, e: &Tag<'x>, empty: bool, depth: usize) -> Result<PsValue, ClixmlError> {
        // Objects at the top of a document or stream may repeat the shape of one read before.
        let top = depth <= 1 && !empty;
        if top && let Some(value) = self.object_of_known_shape(e, depth) {
            return Ok(value);
        }
        self.object_count += 1;
        if self.object_count > self.de.limits.max_objects {
            return Err(ClixmlError::TooManyObjects { limit: self.de.limits.max_objects });
        }
        let ref_id = self.ref_id(e, "Obj")?;
        if ref_id.is_some() {
            self.count_ref_id()?;
        }
        self.scratch.open.push(Open { ref_id, type_names: None, to_string: None });
        let result = self.object_body(empty, depth);
        self.scratch.open.pop();
        let object = Arc::new(result?);
        if let Some(id) = ref_id {
            self.scratch.objects.insert(id, object.clone());
        }
        if top
            && shape::is_flat(&object)
            && let Some(raw) = self.scanner.slice(e.position, self.position())
            && let Some(shape) = Shape::learn(raw, &object, depth)
        {
            shape::remember(&mut self.de.shapes, shape);
        }
        Ok(PsValue::Object(object))
    }

    fn object_body(&mut self, empty: bool, depth: usize) -> Result<PsObject, ClixmlError> {
        let mut object = PsObject::default();
        if empty {
            return Ok(object);
        }
        while let Some((child, child_empty, position)) = self.next_child()? {
            // The parts every object has first, matched byte by byte.
            match child.local_name().as_bytes() {
                [b'M', b'S'] => {
                    object.extended = self.members(child_empty, depth + 1)?;
                    continue;
                }
                [b'T', b'N'] => {
                    let names = self.type_names(&child, child_empty)?;
                    if let Some(open) = self.scratch.open.last_mut() {
                        open.type_names = Some(names.clone());
                    }
                    object.type_names = Some(names);
                    continue;
                }
                _ => {}
            }
            match child.local_name() {
                "TNRef" => {
                    let id = self
                        .ref_id(&child, "TNRef")?
                        .ok_or(ClixmlError::BadAttribute { tag: "TNRef", attribute: "RefId" })?;
                    self.text(child_empty)?;
                    let names = self.scratch.type_refs.get(&id).cloned().ok_or(ClixmlError::UnknownTypeRef(id))?;
                    if let Some(open) = self.scratch.open.last_mut() {
                        open.type_names = Some(names.clone());
                    }
                    object.type_names = Some(names);
                }
                "ToString" => {
                    let text = self.string(child_empty)?;
                    if let Some(open) = self.scratch.open.last_mut() {
                        open.to_string = Some(text.clone());
                    }
                    object.to_string = Some(text);
                }
                "Props" => object.adapted = self.members(child_empty, depth + 1)?,
                "LST" => object.container = Some(Container::List(self.items(child_empty, depth + 1)?)),
                "IE" => object.container = Some(Container::Enumerable(self.items(child_empty, depth + 1)?)),
                "STK" => object.container = Some(Container::Stack(self.items(child_empty, depth + 1)?)),
                "QUE" => object.container = Some(Container::Queue(self.items(child_empty, depth + 1)?)),
                "DCT" => object.container = Some(Container::Dictionary(self.dictionary(child_empty, depth + 1)?)),
                tag if is_value_tag(tag) && object.base.is_none() => {
                    object.base = Some(self.value(&child, child_empty, depth + 1)?);
                }
                _ => object.unknown.push(self.raw_element(child_empty, position)?),
            }
        }
        Ok(object)
    }

    /// The raw XML of an element this model does not know, kept verbatim.
    fn raw_element(&mut self, empty: bool, start: u64) -> Result<String, ClixmlError> {
        if !empty {
            self.scanner.skip_element()?;
        }
        let end = self.position();
        Ok(self.scanner.slice(start, end).ok_or(ClixmlError::Truncated)?.to_owned())
    }

    /// A `<TN>` list. Lists repeat (every object of a stream names the same types), so they are cached by their
    /// raw text: a repeated list costs one scan and one lookup, and shares one allocation.
    fn type_names(&mut self, e: &Tag<'x>, empty: bool) -> Result<Arc<[String]>, ClixmlError> {
        let ref_id = self.ref_id(e, "TN")?;
        let list = if empty {
            Arc::from(Vec::new())
        } else if let Some(list) = self.repeated_type_names(e) {
            list
        } else {
            let start = self.position();
            self.scanner.skip_element()?;
            let raw = self.scanner.slice(start, self.position()).ok_or(ClixmlError::Truncated)?;
            match self.de.type_lists.get(raw) {
                Some(list) => list.clone(),
                None => {
                    let list: Arc<[String]> = parse_type_names(raw, start, self.de.limits.max_string_len)?.into();
                    if self.de.type_lists.len() < CACHE_LIMIT {
                        self.de.type_lists.insert(raw.to_owned(), list.clone());
                    }
                    list
                }
            }
        };
        if let Some(id) = ref_id {
            self.count_ref_id()?;
            self.scratch.type_refs.insert(id, list.clone());
        }
        Ok(list)
    }

    /// A `<TN>` list whose content is byte for byte one read before, consumed without scanning it again: the
    /// cache only holds contents that were checked after an unprefixed `<TN>`, where such content ends at its
    /// first `</TN>` (a `<T>` holds only text), so equal bytes here are equally well-formed.
    fn repeated_type_names(&mut self, e: &Tag<'x>) -> Option<Arc<[String]>> {
        if e.qualified_name() != "TN" {
            return None;
        }
        let rest = self.scanner.rest();
        let window = &rest.as_bytes()[..rest.len().min(TN_SEARCH_WINDOW)];
        let mut from = 0;
        let len = loop {
            let at = from + scan::find_byte(b'<', &window[from..])?;
            if window[at..].starts_with(b"</TN>") {
                break at + "</TN>".len();
            }
            from = at + 1;
        };
        let list = self.de.type_lists.get(&rest[..len])?.clone();
        self.scanner.skip_checked(len);
        Some(list)
    }

    fn members(&mut self, empty: bool, depth: usize) -> Result<Vec<PsProperty>, ClixmlError> {
        if empty {
            return Ok(Vec::new());
        }
        let base = self.scratch.members.len();
        while let Some((child, child_empty, _)) = self.next_child()? {
            let name = self.member_name(&child, self.scratch.members.len() - base)?;
            let value = self.value(&child, child_empty, depth)?;
            self.scratch.members.push(PsProperty { name, value });
        }
        Ok(self.scratch.members.drain(base..).collect())
    }

    fn items(&mut self, empty: bool, depth: usize) -> Result<Vec<PsValue>, ClixmlError> {
        let mut items = Vec::new();
        if empty {
            return Ok(items);
        }
        while let Some((child, child_empty, _)) = self.next_child()? {
            items.push(self.value(&child, child_empty, depth)?);
        }
        Ok(items)
    }

    fn dictionary(&mut self, empty: bool, depth: usize) -> Result<Vec<(PsValue, PsValue)>, ClixmlError> {
        let mut entries = Vec::new();
        if empty {
            return Ok(entries);
        }
        while let Some((child, child_empty, position)) = self.next_child()? {
            if child.local_name() != "En" {
                return Err(ClixmlError::UnexpectedElement { position, tag: tag_name(&child) });
            }
            let (mut key, mut value) = (None, None);
            if !child_empty {
                while let Some((member, member_empty, _)) = self.next_child()? {
                    let name = self.name(&member)?;
                    let parsed = self.value(&member, member_empty, depth + 1)?;
                    match name.as_deref() {
                        Some("Key") => key = Some(parsed),
                        Some("Value") => value = Some(parsed),
                        _ => return Err(ClixmlError::BadDictionaryEntry),
                    }
                }
            }
            match (key, value) {
                (Some(key), Some(value)) => entries.push((key, value)),
                _ => return Err(ClixmlError::BadDictionaryEntry),
            }
        }
        Ok(entries)
    }
}

/// The `<T>` names of a `<TN>` element's raw content (from after its start tag through its end tag).
fn parse_type_names(raw: &str, position: u64, max_len: usize) -> Result<Vec<String>, ClixmlError> {
    // Scan the children only: the content up to the `</TN>` that closes the list.
    let content = raw.rfind('<').map_or(raw, |end| &raw[..end]);
    let mut scanner = Scanner::new(content.as_bytes());
    let mut names = Vec::new();
    loop {
        match scanner.next()? {
            Event::Eof => return Ok(names),
            Event::Text(t) if t.is_blank() => {}
            Event::Empty(tag) if tag.local_name() == "T" => names.push(String::new()),
            Event::Start(tag) if tag.local_name() == "T" => {
                if names.len() >= 64 {
                    return Err(ClixmlError::TooDeep { limit: 64 });
                }
                let mut text = String::new();
                loop {
                    match scanner.next()? {
                        Event::Text(t) => text.push_str(&t.decode(position)?),
                        Event::CData(t) => text.push_str(t),
                        Event::End => break,
                        _ => return Err(ClixmlError::UnexpectedElement { position, tag: "T".into() }),
                    }
                    if text.len() > max_len {
                        return Err(ClixmlError::StringTooLong { limit: max_len });
                    }
                }
                names.push(escape::decode(&text).into_owned());
            }
            Event::Start(tag) | Event::Empty(tag) => {
                return Err(ClixmlError::UnexpectedElement { position, tag: tag_name(&tag) });
            }
            _ => return Err(ClixmlError::UnexpectedElement { position, tag: "TN".into() }),
        }
    }
}

/// Tags that are values (primitives and `Obj`/`Ref`/`Nil`), as opposed to an object's structural parts.
fn is_value_tag(tag: &str) -> bool {
    matches!(
        tag,
        "S" | "C"
            | "B"
            | "DT"
            | "TS"
            | "By"
            | "SB"
            | "U16"
            | "I16"
            | "U32"
            | "I32"
            | "U64"
            | "I64"
            | "Sg"
            | "Db"
            | "D"
            | "BA"
            | "G"
            | "URI"
            | "Version"
            | "XD"
            | "SBK"
            | "SS"
            | "Nil"
            | "Ref"
            | "Obj"
            | "PR"
    )
}

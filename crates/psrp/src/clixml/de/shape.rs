//! The shape cache: a stream of objects repeats one shape — the same type names, the same member names in the
//! same order, only the values differ — so after an object has been read element by element, its markup is kept
//! and the next object is matched against it byte for byte, reading only the values in between.
//!
//! Why that is safe: the kept markup was checked once, and XML is context-free at this level. An object whose
//! markup is byte for byte the kept markup, with value texts that hold no `<` (so no element, comment or CDATA can
//! hide in them) and that decode without error, is well-formed in exactly the same way; its values are parsed by
//! the same code as the element-by-element path. Anything else — a different byte, a value that does not parse, a
//! limit — falls back to that path, which then reports the precise error. Only flat objects are kept (members that
//! are primitives; no nested objects, collections or references), at the top of a document or of an `<Objs>`
//! stream, a few shapes at a time.

use std::sync::Arc;

use crate::clixml::de::Parser;
use crate::clixml::de::kind::TextKind;
use crate::clixml::scan::{self, Event, Scanner, Tag};
use crate::clixml::value::{PsObject, PsProperty, PsValue};

/// How many shapes a deserializer keeps (most recently matched first).
pub(super) const SHAPES: usize = 4;

/// Objects whose markup is longer than this are not kept: the cache stays small whatever the input.
const MAX_SHAPE_BYTES: usize = 16 * 1024;

/// Where the text of a slot goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The digits of `<Obj RefId="…">`.
    RefId,
    /// `<ToString>`.
    ToString,
    /// The value of the `n`th adapted (`<Props>`) member.
    Adapted(usize),
    /// The value of the `n`th extended (`<MS>`) member.
    Extended(usize),
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    target: Target,
    kind: TextKind,
}

/// How the object names its types.
#[derive(Debug)]
enum TypeSource {
    None,
    /// A `<TN>` list (its markup is part of the shape), registered under its `RefId` if it has one.
    Defined {
        list: Arc<[String]>,
        ref_id: Option<u32>,
    },
    /// `<TNRef RefId=…>`: resolved in the document being read.
    Referenced(u32),
}

/// One member: its name, and its value when the element is empty (then it has no slot).
#[derive(Debug)]
struct Member {
    name: Arc<str>,
    fixed: Option<PsValue>,
}

/// The markup of one flat object, cut at its values.
#[derive(Debug)]
pub(super) struct Shape {
    /// `markup[i]` comes before `slots[i]`; the last piece closes the object.
    markup: Vec<Box<str>>,
    slots: Vec<Slot>,
    types: TypeSource,
    adapted: Vec<Member>,
    extended: Vec<Member>,
    /// The nesting depth the object was read at (limits are checked against it).
    depth: usize,
}

/// Whether a value read element by element is flat enough to keep its shape.
pub(super) fn is_flat(object: &PsObject) -> bool {
    let primitive = |p: &PsProperty| !matches!(p.value, PsValue::Object(_) | PsValue::ProgressRecord(_));
    object.base.is_none()
        && object.container.is_none()
        && object.unknown.is_empty()
        && object.adapted.iter().all(primitive)
        && object.extended.iter().all(primitive)
}

impl Shape {
    /// The shape of `raw`, the complete text of `object` (from its `<Obj` through its `</Obj>`), which was just
    /// read element by element; `None` when it is not a shape this cache handles.
    pub(super) fn learn(raw: &str, object: &PsObject, depth: usize) -> Option<Shape> {
        if raw.len() > MAX_SHAPE_BYTES || !is_flat(object) {
            return None;
        }
        let mut learner = Learner { raw, scanner: Scanner::new(raw.as_bytes()), mark: 0, markup: Vec::new() };
        let mut shape = Shape {
            markup: Vec::new(),
            slots: Vec::new(),
            types: TypeSource::None,
            adapted: Vec::new(),
            extended: Vec::new(),
            depth,
        };
        let Ok(Event::Start(obj)) = learner.scanner.next() else { return None };
        let start_tag = &raw[..learner.scanner.position() as usize];
        match start_tag.strip_prefix("<Obj RefId=\"").and_then(|rest| rest.strip_suffix("\">")) {
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                learner.cut(obj.position as usize + "<Obj RefId=\"".len());
                shape.slots.push(Slot { target: Target::RefId, kind: TextKind::U32 });
                learner.mark = start_tag.len() - "\">".len();
            }
            _ if start_tag == "<Obj>" => {}
            _ => return None,
        }
        loop {
            match learner.scanner.next().ok()? {
                Event::End => break,
                Event::Start(child) => match child.local_name() {
                    "TN" => {
                        let ref_id = parse_ref_id(&child)?;
                        learner.scanner.skip_element().ok()?;
                        shape.types = TypeSource::Defined { list: object.type_names.clone()?, ref_id };
                    }
                    "ToString" => {
                        learner.slot()?;
                        shape.slots.push(Slot { target: Target::ToString, kind: TextKind::String });
                    }
                    "MS" => learner.members(&object.extended, &mut shape, Target::Extended)?,
                    "Props" => learner.members(&object.adapted, &mut shape, Target::Adapted)?,
                    _ => return None,
                },
                Event::Empty(child) if child.local_name() == "TNRef" => {
                    shape.types = TypeSource::Referenced(parse_ref_id(&child)??);
                }
                _ => return None,
            }
        }
        if !matches!(learner.scanner.next(), Ok(Event::Eof))
            || shape.adapted.len() != object.adapted.len()
            || shape.extended.len() != object.extended.len()
        {
            return None;
        }
        learner.cut(raw.len());
        shape.markup = learner.markup;
        Some(shape)
    }
}

fn parse_ref_id(tag: &Tag<'_>) -> Option<Option<u32>> {
    match tag.attribute("RefId").ok()? {
        None => Some(None),
        Some(text) => text.trim().parse().ok().map(Some),
    }
}

/// Walks a just-read object and cuts its text into markup and slots.
struct Learner<'r> {
    raw: &'r str,
    scanner: Scanner<'r>,
    /// Where the markup not yet cut off starts.
    mark: usize,
    markup: Vec<Box<str>>,
}

impl Learner<'_> {
    /// Ends the current piece of markup at `at`.
    fn cut(&mut self, at: usize) {
        self.markup.push(self.raw[self.mark..at].into());
        self.mark = at;
    }

    /// An element whose start tag was just read holds a slot: its text, then its end tag.
    fn slot(&mut self) -> Option<()> {
        self.cut(self.scanner.position() as usize);
        match self.scanner.next().ok()? {
            Event::End => return Some(()),
            Event::Text(_) => self.mark = self.scanner.position() as usize,
            _ => return None,
        }
        matches!(self.scanner.next().ok()?, Event::End).then_some(())
    }

    fn members(&mut self, read: &[PsProperty], shape: &mut Shape, target: fn(usize) -> Target) -> Option<()> {
        let mut members = Vec::with_capacity(read.len());
        loop {
            let (member, empty) = match self.scanner.next().ok()? {
                Event::End => break,
                Event::Start(member) => (member, false),
                Event::Empty(member) => (member, true),
                _ => return None,
            };
            let kind = TextKind::of(member.local_name())?;
            let property = read.get(members.len())?;
            if empty {
                members.push(Member { name: property.name.clone(), fixed: Some(property.value.clone()) });
            } else {
                self.slot()?;
                shape.slots.push(Slot { target: target(members.len()), kind });
                members.push(Member { name: property.name.clone(), fixed: None });
            }
        }
        match target(0) {
            Target::Adapted(_) if shape.adapted.is_empty() => shape.adapted = members,
            Target::Extended(_) if shape.extended.is_empty() => shape.extended = members,
            _ => return None,
        }
        Some(())
    }
}

/// The values read into one object's slots.
struct Filled {
    ref_id: Option<u32>,
    to_string: Option<String>,
    adapted: Vec<PsProperty>,
    extended: Vec<PsProperty>,
}

/// Appends the members of `members` from `list.len()` up to `upto` that have fixed values.
fn fill_fixed(list: &mut Vec<PsProperty>, members: &[Member], upto: usize) -> Option<()> {
    while list.len() < upto {
        let member = &members[list.len()];
        list.push(PsProperty { name: member.name.clone(), value: member.fixed.clone()? });
    }
    Some(())
}

impl<'x> Parser<'_, 'x> {
    /// The object whose start tag `e` was just read, if it has one of the kept shapes; `None` leaves the scanner
    /// where it was, for the element-by-element path.
    pub(super) fn object_of_known_shape(&mut self, e: &Tag<'x>, depth: usize) -> Option<PsValue> {
        let input = self.scanner.input_from(e.position);
        let index = (0..self.de.shapes.len()).find_map(|i| {
            let shape = &self.de.shapes[i];
            (shape.depth == depth).then(|| self.fill(shape, input, e.position)).flatten().map(|f| (i, f))
        });
        let (index, (filled, len)) = index?;
        let value = self.build(index, filled)?;
        self.scanner.skip_checked_to(e.position + len as u64);
        if index != 0 {
            self.de.shapes[..=index].rotate_right(1);
        }
        Some(value)
    }

    /// Matches `input` (from the object's `<`) against `shape`; the values and the length of the object's text.
    fn fill(&self, shape: &Shape, input: &'x str, start: u64) -> Option<(Filled, usize)> {
        let bytes = input.as_bytes();
        let mut pos = 0;
        let mut filled = Filled {
            ref_id: None,
            to_string: None,
            adapted: Vec::with_capacity(shape.adapted.len()),
            extended: Vec::with_capacity(shape.extended.len()),
        };
        for (markup, slot) in shape.markup.iter().zip(&shape.slots) {
            if !bytes[pos..].starts_with(markup.as_bytes()) {
                return None;
            }
            pos += markup.len();
            if let Target::RefId = slot.target {
                let digits = bytes[pos..].iter().take(10).take_while(|b| b.is_ascii_digit()).count();
                filled.ref_id = Some(input[pos..pos + digits].parse().ok()?);
                pos += digits;
                continue;
            }
            let text = scan::leading_text(&input[pos..]);
            if text.raw().len() > self.de.limits.max_string_len {
                return None;
            }
            let position = start + pos as u64;
            let value = slot.kind.value(text.decode(position).ok()?, text.may_escape(), position).ok()?;
            pos += text.raw().len();
            match slot.target {
                Target::ToString => match value {
                    PsValue::String(s) => filled.to_string = Some(s),
                    _ => return None,
                },
                Target::Adapted(i) => {
                    fill_fixed(&mut filled.adapted, &shape.adapted, i)?;
                    filled.adapted.push(PsProperty { name: shape.adapted[i].name.clone(), value });
                }
                Target::Extended(i) => {
                    fill_fixed(&mut filled.extended, &shape.extended, i)?;
                    filled.extended.push(PsProperty { name: shape.extended[i].name.clone(), value });
                }
                Target::RefId => return None,
            }
        }
        let last = shape.markup.last()?;
        if !bytes[pos..].starts_with(last.as_bytes()) {
            return None;
        }
        fill_fixed(&mut filled.adapted, &shape.adapted, shape.adapted.len())?;
        fill_fixed(&mut filled.extended, &shape.extended, shape.extended.len())?;
        Some((filled, pos + last.len()))
    }

    /// The object of shape `index` with these values, registered under its RefIds as the element-by-element path
    /// would; `None` (nothing registered) when a limit or a `<TNRef>` needs that path's error.
    fn build(&mut self, index: usize, filled: Filled) -> Option<PsValue> {
        let limits = self.de.limits;
        let defines_types = matches!(self.de.shapes[index].types, TypeSource::Defined { ref_id: Some(_), .. });
        let ref_ids = usize::from(filled.ref_id.is_some()) + usize::from(defines_types);
        if self.object_count + 1 > limits.max_objects
            || self.scratch.objects.len() + self.scratch.type_refs.len() + ref_ids > limits.max_ref_ids
        {
            return None;
        }
        let type_names = match &self.de.shapes[index].types {
            TypeSource::None => None,
            TypeSource::Defined { list, ref_id } => {
                if let Some(id) = ref_id {
                    self.scratch.type_refs.insert(*id, list.clone());
                }
                Some(list.clone())
            }
            TypeSource::Referenced(id) => Some(self.scratch.type_refs.get(id)?.clone()),
        };
        self.object_count += 1;
        let object = Arc::new(PsObject {
            type_names,
            to_string: filled.to_string,
            adapted: filled.adapted,
            extended: filled.extended,
            ..PsObject::default()
        });
        if let Some(id) = filled.ref_id {
            self.scratch.objects.insert(id, object.clone());
        }
        Some(PsValue::Object(object))
    }
}

/// Keeps `shape` as the most recent one.
pub(super) fn remember(shapes: &mut Vec<Shape>, shape: Shape) {
    if shapes.len() == SHAPES {
        shapes.pop();
    }
    shapes.insert(0, shape);
}

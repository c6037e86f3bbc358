//! WS-Enumeration of shells and commands: Enumerate (optimized or not), Pull, Release, with the SelectorFilter
//! dialect used to list one shell's commands.

use crate::error::EnvelopeError;
use crate::header::{Prefixes, Selector, ns, parse_selectors, write_selectors};
use crate::shell::ShellProperties;
use crate::xml::{Element, Writer};

/// The SelectorFilter dialect URI.
pub const SELECTOR_FILTER_DIALECT: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter";

/// `wsen:Enumerate`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enumerate {
    /// `wsman:OptimizeEnumeration`: items come back in the EnumerateResponse itself.
    pub optimize: bool,
    /// `wsman:MaxElements`.
    pub max_elements: Option<u32>,
    /// A SelectorFilter (`ShellId='…'` to enumerate one shell's commands).
    pub filter: Option<Vec<Selector>>,
}

impl Enumerate {
    /// pypsrp's optimized Enumerate (`MaxElements` 32000), optionally filtered on a shell's id.
    pub fn optimized(shell_id: Option<&str>) -> Self {
        Enumerate {
            optimize: true,
            max_elements: Some(32000),
            filter: shell_id.map(|id| vec![Selector { name: "ShellId".into(), value: id.to_owned() }]),
        }
    }

    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::ENUMERATION, "Enumerate").ok_or(EnvelopeError::MissingElement("Enumerate"))?;
        let max_elements = el
            .child(ns::WSMAN, "MaxElements")
            .or_else(|| el.child(ns::ENUMERATION, "MaxElements"))
            .map(|m| {
                m.text
                    .trim()
                    .parse()
                    .map_err(|_| EnvelopeError::InvalidValue { field: "MaxElements", value: m.text.clone() })
            })
            .transpose()?;
        let filter = match el.child(ns::WSMAN, "Filter") {
            None => None,
            Some(f) => {
                let dialect = f.attr("Dialect").unwrap_or(SELECTOR_FILTER_DIALECT);
                if dialect != SELECTOR_FILTER_DIALECT {
                    return Err(EnvelopeError::InvalidValue { field: "Filter/@Dialect", value: dialect.to_owned() });
                }
                let set = f.child(ns::WSMAN, "SelectorSet").ok_or(EnvelopeError::MissingElement("SelectorSet"))?;
                Some(parse_selectors(set)?)
            }
        };
        Ok(Enumerate { optimize: el.child(ns::WSMAN, "OptimizeEnumeration").is_some(), max_elements, filter })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>, p: &Prefixes) {
        w.open(&p.n("Enumerate"), &[]);
        if self.optimize {
            w.empty(&p.w("OptimizeEnumeration"), &[]);
        }
        if let Some(m) = self.max_elements {
            w.leaf(&p.w("MaxElements"), &[], &m.to_string());
        }
        if let Some(f) = &self.filter {
            w.open(&p.w("Filter"), &[("Dialect", SELECTOR_FILTER_DIALECT)]);
            write_selectors(w, p, f);
            w.close(&p.w("Filter"));
        }
        w.close(&p.n("Enumerate"));
    }
}

/// One `rsp:Command` item of a command enumeration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandItem {
    /// `rsp:CommandId`.
    pub command_id: String,
    /// `rsp:CommandLine`.
    pub command_line: Option<String>,
    /// `rsp:CommandState` (`Running`, …).
    pub state: Option<String>,
}

/// One enumerated item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnumItem {
    /// A shell.
    Shell(Box<ShellProperties>),
    /// A command of a shell.
    Command(CommandItem),
}

fn parse_items(items: Option<&Element>) -> Result<Vec<EnumItem>, EnvelopeError> {
    let Some(items) = items else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for c in &items.children {
        if c.is(ns::SHELL, "Shell") {
            out.push(EnumItem::Shell(Box::new(ShellProperties::from_element(c)?)));
        } else if c.is(ns::SHELL, "Command") {
            out.push(EnumItem::Command(CommandItem {
                command_id: c
                    .child_text(ns::SHELL, "CommandId")
                    .ok_or(EnvelopeError::MissingElement("CommandId"))?
                    .trim()
                    .to_owned(),
                command_line: c.child_text(ns::SHELL, "CommandLine").map(str::to_owned),
                state: c.child_text(ns::SHELL, "CommandState").map(|s| s.trim().to_owned()),
            }));
        }
    }
    Ok(out)
}

fn write_items(w: &mut Writer<'_>, name: &str, items: &[EnumItem]) {
    if items.is_empty() {
        return;
    }
    w.open(name, &[]);
    for item in items {
        match item {
            EnumItem::Shell(s) => s.write(w),
            EnumItem::Command(c) => {
                w.open("rsp:Command", &[("xmlns:rsp", ns::SHELL)]);
                w.leaf("rsp:CommandId", &[], &c.command_id);
                w.opt_leaf("rsp:CommandLine", c.command_line.as_deref());
                w.opt_leaf("rsp:CommandState", c.state.as_deref());
                w.close("rsp:Command");
            }
        }
    }
    w.close(name);
}

fn context_of(el: &Element) -> Option<String> {
    el.child(ns::ENUMERATION, "EnumerationContext").map(|c| c.text.trim().to_owned()).filter(|c| !c.is_empty())
}

/// `wsen:EnumerateResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnumerateResponse {
    /// `EnumerationContext`; empty text reads as `None` (optimized enumeration that is complete).
    pub context: Option<String>,
    /// The items (optimized enumeration: `wsman:Items`).
    pub items: Vec<EnumItem>,
    /// `wsman:EndOfSequence`.
    pub end_of_sequence: bool,
}

impl EnumerateResponse {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body
            .child(ns::ENUMERATION, "EnumerateResponse")
            .ok_or(EnvelopeError::MissingElement("EnumerateResponse"))?;
        Ok(EnumerateResponse {
            context: context_of(el),
            items: parse_items(el.child(ns::WSMAN, "Items"))?,
            end_of_sequence: el.child(ns::WSMAN, "EndOfSequence").is_some(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>, p: &Prefixes) {
        w.open(&p.n("EnumerateResponse"), &[]);
        w.leaf(&p.n("EnumerationContext"), &[], self.context.as_deref().unwrap_or(""));
        write_items(w, &p.w("Items"), &self.items);
        if self.end_of_sequence {
            w.raw("<");
            w.raw(&p.w("EndOfSequence"));
            w.raw("/>");
        }
        w.close(&p.n("EnumerateResponse"));
    }
}

/// `wsen:Pull`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pull {
    /// `wsen:EnumerationContext`.
    pub context: String,
    /// `wsen:MaxElements`.
    pub max_elements: Option<u32>,
}

impl Pull {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::ENUMERATION, "Pull").ok_or(EnvelopeError::MissingElement("Pull"))?;
        let context = el
            .child_text(ns::ENUMERATION, "EnumerationContext")
            .ok_or(EnvelopeError::MissingElement("EnumerationContext"))?
            .trim()
            .to_owned();
        let max_elements = el
            .child(ns::ENUMERATION, "MaxElements")
            .map(|m| {
                m.text
                    .trim()
                    .parse()
                    .map_err(|_| EnvelopeError::InvalidValue { field: "MaxElements", value: m.text.clone() })
            })
            .transpose()?;
        Ok(Pull { context, max_elements })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>, p: &Prefixes) {
        w.open(&p.n("Pull"), &[]);
        w.leaf(&p.n("EnumerationContext"), &[], &self.context);
        if let Some(m) = self.max_elements {
            w.leaf(&p.n("MaxElements"), &[], &m.to_string());
        }
        w.close(&p.n("Pull"));
    }
}

/// `wsen:PullResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullResponse {
    /// The context for the next Pull; absent at the end.
    pub context: Option<String>,
    /// `wsen:Items`.
    pub items: Vec<EnumItem>,
    /// `wsen:EndOfSequence`.
    pub end_of_sequence: bool,
}

impl PullResponse {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::ENUMERATION, "PullResponse").ok_or(EnvelopeError::MissingElement("PullResponse"))?;
        Ok(PullResponse {
            context: context_of(el),
            items: parse_items(el.child(ns::ENUMERATION, "Items"))?,
            end_of_sequence: el.child(ns::ENUMERATION, "EndOfSequence").is_some(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>, p: &Prefixes) {
        w.open(&p.n("PullResponse"), &[]);
        if let Some(c) = &self.context {
            w.leaf(&p.n("EnumerationContext"), &[], c);
        }
        write_items(w, &p.n("Items"), &self.items);
        if self.end_of_sequence {
            w.raw("<");
            w.raw(&p.n("EndOfSequence"));
            w.raw("/>");
        }
        w.close(&p.n("PullResponse"));
    }
}

/// `wsen:Release`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    /// `wsen:EnumerationContext`.
    pub context: String,
}

impl Release {
    pub(crate) fn parse(body: &Element) -> Result<Self, EnvelopeError> {
        let el = body.child(ns::ENUMERATION, "Release").ok_or(EnvelopeError::MissingElement("Release"))?;
        let context = el
            .child_text(ns::ENUMERATION, "EnumerationContext")
            .ok_or(EnvelopeError::MissingElement("EnumerationContext"))?
            .trim()
            .to_owned();
        Ok(Release { context })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>, p: &Prefixes) {
        w.open(&p.n("Release"), &[]);
        w.leaf(&p.n("EnumerationContext"), &[], &self.context);
        w.close(&p.n("Release"));
    }
}

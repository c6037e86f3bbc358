//! The simulated endpoint's reading of request envelopes: an element tree by local names (test scaffolding; the
//! library's own WS-Man reading is internal).

use quick_xml::Reader;
use quick_xml::events::Event;

/// One element: local name, attributes by local name, text, children.
#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|c| if c.name == name { Some(c) } else { c.find(name) })
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

fn local(name: &str) -> String {
    name.rsplit_once(':').map_or(name, |(_, l)| l).to_owned()
}

/// Parses a whole document; returns the root element.
pub fn parse(xml: &[u8]) -> Element {
    let mut reader = Reader::from_reader(xml);
    let mut stack = vec![Element::default()];
    loop {
        match reader.read_event().expect("well-formed XML from the client") {
            Event::Start(start) => stack.push(element(&start)),
            Event::Empty(start) => {
                let e = element(&start);
                stack.last_mut().expect("parent").children.push(e);
            }
            Event::End(_) => {
                let e = stack.pop().expect("open element");
                stack.last_mut().expect("parent").children.push(e);
            }
            Event::Text(text) => stack.last_mut().expect("element").text.push_str(&text.xml10_content()),
            Event::GeneralRef(r) => {
                let name = r.into_inner();
                let resolved = quick_xml::escape::unescape(&format!("&{name};")).expect("entity").into_owned();
                stack.last_mut().expect("element").text.push_str(&resolved);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack.pop().expect("root").children.into_iter().next().expect("document element")
}

fn element(start: &quick_xml::events::BytesStart<'_>) -> Element {
    let attributes = start
        .attributes()
        .map(|a| {
            let a = a.expect("attribute");
            let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).expect("attribute value").into_owned();
            (local(a.key.as_ref()), value)
        })
        .collect();
    Element { name: local(start.name().as_ref()), attributes, ..Element::default() }
}

/// Escapes element text and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

//! 100,000 objects stream through the formatter and the JSON Lines writer in flat memory: the heap's peak stays
//! that of a few rows (the table's preview), not proportional to the stream. Measured with `dhat` in testing
//! mode (the workspace forbids `unsafe`, so the test cannot write its own counting allocator).

use pssession_format::{FormatOptions, Formatter, PREVIEW_ROWS, Shape, write_json_line};
use pssession_psrp::clixml::{PsObject, PsValue};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const OBJECTS: i64 = 100_000;

fn object(i: i64) -> PsValue {
    PsObject::custom([("Sequence", PsValue::I64(i)), ("Name", PsValue::String(format!("svchost-{i:06}")))]).into()
}

/// Streams the objects (each made, printed, dropped, as the receive path does) and returns the printed length.
fn stream(mut print: impl FnMut(&PsValue, &mut String)) -> usize {
    let mut out = String::new();
    let mut printed = 0;
    for i in 0..OBJECTS {
        print(&object(i), &mut out);
        printed += out.len();
        out.clear();
    }
    printed
}

#[test]
fn a_hundred_thousand_objects_stream_in_flat_memory() {
    let profiler = dhat::Profiler::builder().testing().build();
    let mut table = Formatter::new(FormatOptions::default());
    let table_bytes = stream(|value, out| table.write(value, out));
    let mut list = Formatter::new(FormatOptions { shape: Shape::List, ..FormatOptions::default() });
    let list_bytes = stream(|value, out| list.write(value, out));
    let json_bytes = stream(write_json_line);
    let peak = dhat::HeapStats::get().max_bytes;
    drop(profiler);
    eprintln!("peak heap {peak} bytes for {table_bytes} + {list_bytes} + {json_bytes} bytes printed");
    assert!(table_bytes > OBJECTS as usize * 20 && list_bytes > table_bytes && json_bytes > table_bytes);
    // The preview holds PREVIEW_ROWS rows of two short cells; everything else is per object and freed.
    assert!(peak < 64 * 1024, "peak heap {peak} bytes: memory grows with the stream (preview {PREVIEW_ROWS} rows)");
}

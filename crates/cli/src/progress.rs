//! A one-line progress indicator on stderr for work across several sessions or computers: `Connecting 3/40
//! ITTask`, redrawn in place with `\r`. It is drawn only when stderr is a terminal (and `-v` is off), so pipes,
//! logs and tests see nothing of it; a single target draws nothing either.

use std::cell::{Cell, RefCell};
use std::io::{IsTerminal, Write};

/// The widest line drawn, so that it fits an 80-column terminal without wrapping (a wrapped line cannot be
/// redrawn with `\r`).
pub const MAX_WIDTH: usize = 79;

/// The text of the progress line: `{activity} {done}/{total} {label}`, with `...` for an empty label, cut to
/// [`MAX_WIDTH`] characters (the cut marked with `...`).
pub fn render_line(activity: &str, done: usize, total: usize, label: &str) -> String {
    let label = if label.is_empty() { "..." } else { label };
    let line = format!("{activity} {done}/{total} {label}");
    if line.chars().count() <= MAX_WIDTH {
        return line;
    }
    line.chars().take(MAX_WIDTH - 3).collect::<String>() + "..."
}

/// The progress of one activity over `total` items. Single-threaded (the CLI's operations run on one
/// [`tokio::task::LocalSet`]); share it with `Rc`. The line is cleared when the indicator is dropped.
pub struct Progress {
    activity: &'static str,
    total: usize,
    done: Cell<usize>,
    /// Characters of the line on screen, 0 when none is.
    shown: Cell<usize>,
    out: Option<RefCell<Box<dyn Write>>>,
}

impl Progress {
    /// Progress on stderr: drawn when there is more than one item, stderr is a terminal and `-v` is off.
    pub fn stderr(activity: &'static str, total: usize) -> Self {
        let draw = total > 1 && std::io::stderr().is_terminal() && !crate::tracing_enabled();
        let out: Option<Box<dyn Write>> = if draw { Some(Box::new(std::io::stderr())) } else { None };
        Self::new(activity, total, out)
    }

    /// Progress drawn on `out`, or nowhere when `None`; shows `{activity} 0/{total} ...` at once.
    pub fn new(activity: &'static str, total: usize, out: Option<Box<dyn Write>>) -> Self {
        let progress =
            Progress { activity, total, done: Cell::new(0), shown: Cell::new(0), out: out.map(RefCell::new) };
        progress.draw("");
        progress
    }

    /// Whether anything is drawn.
    pub fn is_drawn(&self) -> bool {
        self.out.is_some()
    }

    /// One more item done; `label` names it (a session or computer).
    pub fn advance(&self, label: &str) {
        self.done.set((self.done.get() + 1).min(self.total));
        self.draw(label);
    }

    /// Erases the line (before printing something else on the terminal); the next [`Progress::advance`] draws
    /// it again.
    pub fn clear(&self) {
        let shown = self.shown.replace(0);
        if shown > 0 {
            self.write(&format!("\r{}\r", " ".repeat(shown)));
        }
    }

    fn draw(&self, label: &str) {
        if self.out.is_none() {
            return;
        }
        let line = render_line(self.activity, self.done.get(), self.total, label);
        let width = line.chars().count();
        // Spaces cover what is left of a longer previous line.
        let padding = " ".repeat(self.shown.get().saturating_sub(width));
        self.write(&format!("\r{line}{padding}"));
        self.shown.set(width);
    }

    fn write(&self, text: &str) {
        if let Some(out) = &self.out {
            let mut out = out.borrow_mut();
            // A progress line that cannot be drawn is not worth failing the command for.
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Screen(Rc<RefCell<Vec<u8>>>);

    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Screen {
        fn text(&self) -> String {
            String::from_utf8(self.0.borrow().clone()).expect("utf-8")
        }
    }

    #[test]
    fn the_line_counts_done_over_total_and_names_the_item() {
        assert_eq!(render_line("Connecting", 3, 40, ""), "Connecting 3/40 ...");
        assert_eq!(render_line("Connecting", 3, 40, "ITTask"), "Connecting 3/40 ITTask");
        let long = render_line("Querying", 1, 2, &"x".repeat(200));
        assert_eq!(long.chars().count(), MAX_WIDTH);
        assert!(long.starts_with("Querying 1/2 xxx") && long.ends_with("x..."), "{long}");
    }

    #[test]
    fn the_line_is_redrawn_in_place_and_cleared_at_the_end() {
        let screen = Screen::default();
        let progress = Progress::new("Removing", 2, Some(Box::new(screen.clone())));
        assert!(progress.is_drawn());
        progress.advance("LongerName");
        progress.advance("B");
        drop(progress);
        let text = screen.text();
        assert_eq!(text, "\rRemoving 0/2 ...\rRemoving 1/2 LongerName\rRemoving 2/2 B         \r              \r");
        assert!(!text.contains('\n'), "one line, redrawn");
    }

    #[test]
    fn nothing_is_written_without_a_terminal() {
        let progress = Progress::new("Connecting", 3, None);
        assert!(!progress.is_drawn());
        progress.advance("a");
        progress.clear();
        // A pipe or file on stderr (as under `cargo test`) never gets the line either.
        if !std::io::stderr().is_terminal() {
            assert!(!Progress::stderr("Connecting", 3).is_drawn());
        }
        assert!(!Progress::new("Connecting", 1, None).is_drawn());
    }
}

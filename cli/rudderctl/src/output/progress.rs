//! The progress line of long waits (`rollout status`, `delete --wait`): a spinner,
//! what is awaited and for how long, redrawn in place. Only on a terminal: when
//! stdout is a pipe or a file nothing extra is written, so scripts read the same
//! lines as from kubectl.

use std::time::Duration;

use crate::session::Io;

/// How often the line is redrawn.
pub const TICK: Duration = Duration::from_millis(200);
const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/// Erase the current line (carriage return, then ANSI "erase to end of line").
const ERASE: &str = "\r\x1b[K";

/// One progress line.
#[derive(Debug)]
pub struct Progress {
    started: tokio::time::Instant,
    frame: usize,
    shown: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    /// A line whose clock starts now.
    pub fn new() -> Progress {
        Progress {
            started: tokio::time::Instant::now(),
            frame: 0,
            shown: false,
        }
    }

    /// Draws (or redraws) `⠋ <what> (12s)` when stdout is a terminal.
    pub fn tick(&mut self, io: &mut Io, what: &str) {
        if !io.terminal {
            return;
        }
        let spinner = FRAMES[self.frame % FRAMES.len()];
        self.frame += 1;
        let elapsed = self.started.elapsed().as_secs();
        io.print(&format!("{ERASE}{spinner} {what} ({elapsed}s)"));
        self.shown = true;
    }

    /// Erases the line, so that what is printed next starts on a clean one.
    pub fn clear(&mut self, io: &mut Io) {
        if self.shown {
            io.print(ERASE);
            self.shown = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_gets_a_redrawn_line_that_is_erased_at_the_end() {
        let (mut io, out, _) = Io::captured("", 0);
        io.terminal = true;
        let mut progress = Progress::new();
        progress.tick(&mut io, "waiting for deployment \"web\"");
        progress.tick(&mut io, "waiting for deployment \"web\"");
        progress.clear(&mut io);
        io.print("done\n");
        assert_eq!(
            out.text(),
            "\r\x1b[K⠋ waiting for deployment \"web\" (0s)\r\x1b[K⠙ waiting for deployment \"web\" (0s)\r\x1b[Kdone\n"
        );
    }

    #[test]
    fn a_pipe_gets_nothing_extra() {
        let (mut io, out, _) = Io::captured("", 0);
        let mut progress = Progress::new();
        progress.tick(&mut io, "waiting");
        progress.clear(&mut io);
        io.print("done\n");
        assert_eq!(out.text(), "done\n");
    }
}

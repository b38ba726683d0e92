//! Go's `text/tabwriter` elastic tabstops, which every kubectl table and `describe`
//! page goes through: cells are `\t`-terminated, and a column is aligned over each
//! block of consecutive lines that have a cell in it. Reproducing the algorithm (not
//! just "pad every column") is what makes `describe` sections align as kubectl's do.

/// Settings of one writer, as Go's `tabwriter.NewWriter(out, minwidth, tabwidth,
/// padding, ' ', flags)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TabWriter {
    /// Minimal cell width, padding included.
    pub min_width: usize,
    /// Spaces added after the widest cell of a column.
    pub padding: usize,
}

/// kubectl's table writer (`printers.GetNewTabWriter`: minwidth 6, padding 3).
pub const TABLE: TabWriter = TabWriter {
    min_width: 6,
    padding: 3,
};

/// kubectl describe's writer (minwidth 0, padding 2).
pub const DESCRIBE: TabWriter = TabWriter {
    min_width: 0,
    padding: 2,
};

impl TabWriter {
    /// Aligns `text` (lines of `\t`-separated cells) as Go's tabwriter flushes it.
    pub fn format(&self, text: &str) -> String {
        let lines: Vec<Vec<&str>> = text
            .split('\n')
            .map(|line| line.split('\t').collect())
            .collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.format_block(&lines, 0, lines.len(), &mut widths, &mut out);
        out
    }

    /// The column widths `format` would use for a single block of rows; kubectl's
    /// `get -w` remembers them between flushes.
    pub fn widths(&self, rows: &[Vec<String>]) -> Vec<usize> {
        let columns = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        (0..columns.saturating_sub(1))
            .map(|c| {
                rows.iter()
                    .filter(|r| c + 1 < r.len())
                    .map(|r| r[c].chars().count() + self.padding)
                    .fold(self.min_width, usize::max)
            })
            .collect()
    }

    fn format_block(
        &self,
        lines: &[Vec<&str>],
        mut line0: usize,
        line1: usize,
        widths: &mut Vec<usize>,
        out: &mut String,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            write_lines(lines, line0, this, widths, out);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(lines[this][column].chars().count() + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format_block(lines, line0, this, widths, out);
            widths.pop();
            line0 = this;
        }
        write_lines(lines, line0, line1, widths, out);
    }
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() && j + 1 < line.len() {
                let pad = widths[j].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

/// Pads `row` to remembered `widths` (kubectl's `RememberWidths` in `get -w`).
pub fn format_row(row: &[String], widths: &[usize]) -> String {
    let mut out = String::new();
    for (j, cell) in row.iter().enumerate() {
        out.push_str(cell);
        if j + 1 < row.len() {
            let width = widths.get(j).copied().unwrap_or(0);
            let pad = width.saturating_sub(cell.chars().count());
            out.extend(std::iter::repeat_n(' ', pad.max(1)));
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_pad_to_widest_cell_plus_three_at_least_six() {
        let text = "NAME\tSTATUS\tAGE\ndefault\tActive\t5d\nkube-system\tActive\t5d\n";
        assert_eq!(
            TABLE.format(text),
            "NAME          STATUS   AGE\n\
             default       Active   5d\n\
             kube-system   Active   5d\n"
        );
        assert_eq!(TABLE.format("ID\tX\na\tb\n"), "ID    X\na     b\n");
    }

    #[test]
    fn describe_blocks_align_separately() {
        let text =
            "Name:\tweb\nNamespace:\tdefault\nIPs:\n  IP:\t10.0.0.1\nQoS Class:\tBestEffort\n";
        assert_eq!(
            DESCRIBE.format(text),
            // "IPs:" has no cell, so it ends the block: "  IP:" aligns with "QoS Class:",
            // exactly as kubectl describe prints it.
            "Name:       web\nNamespace:  default\nIPs:\n  IP:       10.0.0.1\nQoS Class:  BestEffort\n"
        );
    }

    #[test]
    fn nested_columns_align_within_their_block() {
        let text = "a\tbb\tc\naaa\tb\tc\nx\n";
        assert_eq!(DESCRIBE.format(text), "a    bb  c\naaa  b   c\nx\n");
    }
}

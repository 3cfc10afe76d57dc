package reportfile

import (
	"fmt"
	"io"
	"strings"
)

// The frame of a single run's Markdown report, the same for every
// repetition-based scenario; the tables in between are the scenario's.

// WriteHead opens a single run's report: the title, the result in a line
// and the paragraph after it (notes, when not empty), how the run was run
// and the method.
func WriteHead(w io.Writer, title, result, notes string, m RunMeta, load, method string) {
	fmt.Fprintf(w, "# %s\n\n**Result:** %s\n\n", title, result)
	if notes != "" {
		fmt.Fprintf(w, "%s\n\n", notes)
	}
	WriteHowRun(w, m, load)
	fmt.Fprintf(w, "\n## Method\n\n%s\n", method)
}

// WriteRepsHead opens the table of repetitions: the rep number, the
// columns (numbers, aligned right) and the status (Status).
func WriteRepsHead(w io.Writer, columns ...string) {
	fmt.Fprintf(w, "\n## Repetitions\n\n| rep | %s | status |\n|---:|%s---|\n", strings.Join(columns, " | "), strings.Repeat("---:|", len(columns)))
}

// Status is a repetition's status cell: ok, or FAILED and why.
func Status(failure string) string {
	if failure != "" {
		return "FAILED: " + failure
	}
	return "ok"
}

// WriteSummaryHead opens the table of spreads over the clean repetitions.
func WriteSummaryHead(w io.Writer, clean int) {
	fmt.Fprintf(w, "\n## Summary over %d clean repetition(s): median [min..max]\n\n| metric | value |\n|---|---:|\n", clean)
}

// WriteEnd closes a single run's report: the run's failure, if any, then
// the conclusion section, if conclusion is not empty.
func WriteEnd(w io.Writer, failure, conclusion string) {
	if failure != "" {
		fmt.Fprintf(w, "\n**FAILED:** %s\n", failure)
	}
	if conclusion != "" {
		fmt.Fprintf(w, "\n## Conclusion\n\n%s\n", conclusion)
	}
}

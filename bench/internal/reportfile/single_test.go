package reportfile

import (
	"strings"
	"testing"
)

func TestSingleRunFrame(t *testing.T) {
	var w strings.Builder
	m := RunMeta{Command: "swload x", ServerBin: "/bin/s", ServerArgs: []string{"serve"}, SourceAddrs: []string{"127.0.0.2"}}
	WriteHead(&w, "X: sb", "it ran.", "**Machine: quiet.**", m, "10 conns", "How.")
	WriteRepsHead(&w, "msgs/s", "p99 ms")
	w.WriteString("| 1 | 5 | 1.0 | " + Status("") + " |\n| 2 | 0 | 0.0 | " + Status("boom") + " |\n")
	WriteSummaryHead(&w, 1)
	WriteEnd(&w, "repetition 2: boom", "It ran once.")
	want := []string{
		"# X: sb\n\n**Result:** it ran.\n\n**Machine: quiet.**\n\n## How it was run\n\n```sh\nswload x\n```\n",
		"| load | 10 conns |",
		"\n## Method\n\nHow.\n\n## Repetitions\n\n| rep | msgs/s | p99 ms | status |\n|---:|---:|---:|---|\n| 1 | 5 | 1.0 | ok |\n| 2 | 0 | 0.0 | FAILED: boom |\n",
		"\n## Summary over 1 clean repetition(s): median [min..max]\n\n| metric | value |\n|---|---:|\n",
		"\n**FAILED:** repetition 2: boom\n\n## Conclusion\n\nIt ran once.\n",
	}
	for _, s := range want {
		if !strings.Contains(w.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, w.String())
		}
	}

	w.Reset()
	WriteHead(&w, "X: sb", "it ran.", "", m, "10 conns", "How.")
	WriteEnd(&w, "", "")
	if !strings.HasPrefix(w.String(), "# X: sb\n\n**Result:** it ran.\n\n## How it was run") || !strings.HasSuffix(w.String(), "\n## Method\n\nHow.\n") {
		t.Errorf("without notes, failure or conclusion:\n%s", w.String())
	}
}

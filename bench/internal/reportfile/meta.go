package reportfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
)

// RunMeta is the reproduction information every scenario's result
// carries: the exact command, what was measured, on what machine and
// under which kernel settings.
type RunMeta struct {
	Command      string            `json:"command"` // exactly as run, shell-quoted
	ServerBin    string            `json:"server_bin"`
	ServerArgs   []string          `json:"server_args"` // of the first repetition; ports differ per repetition
	ServerCommit string            `json:"server_commit"`
	ServerGo     string            `json:"server_go"`
	Machine      sysinfo.Machine   `json:"machine"`
	Sysctls      map[string]string `json:"sysctls,omitempty"`
	NofileSwload sysinfo.Rlimit    `json:"nofile_swload"`
	NofileServer string            `json:"nofile_server"`
	SourceAddrs  []string          `json:"source_addrs"`
	Started      string            `json:"started"`
	Finished     string            `json:"finished"`
}

// NewRunMeta fills what is known before a run starts; started is the
// time as reports show it.
func NewRunMeta(repo, serverBin string, nofile sysinfo.Rlimit, started string) RunMeta {
	return RunMeta{
		Command:      sysinfo.ShellQuote(os.Args),
		ServerBin:    serverBin,
		ServerCommit: sysinfo.GitCommit(repo),
		ServerGo:     sysinfo.BinaryGoVersion(serverBin),
		Machine:      sysinfo.ReadMachine(),
		Sysctls:      sysinfo.Sysctls(sysinfo.ReportedSysctls),
		NofileSwload: nofile,
		Started:      started,
	}
}

// WriteHowRun renders a single run's "How it was run" section: the
// command, then a table of load and meta, then the sysctls.
func WriteHowRun(w io.Writer, m RunMeta, load string) {
	fmt.Fprintf(w, "## How it was run\n\n```sh\n%s\n```\n\n| | |\n|---|---|\n", m.Command)
	fmt.Fprintf(w, "| load | %s |\n", load)
	fmt.Fprintf(w, "| server command | `%s %s` (fresh ports each repetition) |\n", m.ServerBin, strings.Join(m.ServerArgs, " "))
	fmt.Fprintf(w, "| server commit | %s |\n", m.ServerCommit)
	fmt.Fprintf(w, "| server built with | %s |\n", m.ServerGo)
	fmt.Fprintf(w, "| swload built with | %s |\n", m.Machine.GoVersion)
	fmt.Fprintf(w, "| machine | %s |\n", MachineText(m.Machine))
	fmt.Fprintf(w, "| RLIMIT_NOFILE | swload %d soft / %d hard; server %s |\n", m.NofileSwload.Soft, m.NofileSwload.Hard, m.NofileServer)
	fmt.Fprintf(w, "| clients | from %s |\n", strings.Join(m.SourceAddrs, ", "))
	fmt.Fprintf(w, "| started / finished | %s / %s |\n\n", m.Started, m.Finished)
	if len(m.Sysctls) > 0 {
		WriteSysctls(w, m.Sysctls)
	}
}

// MachineText is a machine in one line.
func MachineText(m sysinfo.Machine) string {
	return fmt.Sprintf("%d CPUs, %s, MemTotal %.2f GiB, kernel %s", m.NProc, m.CPUModel, float64(m.MemTotal)/(1<<30), m.Kernel)
}

// Run names one run in a combined report's table of runs.
type Run struct {
	Label  string // what the row is: a server, a server and its load
	Meta   RunMeta
	Source string // the run's .json, whose .md is linked
}

// WriteRuns renders a combined report's reproduction section: each run's
// commit, Go versions, machine and exact command, and the sysctls in force
// (those of the first run that recorded any).
func WriteRuns(w io.Writer, runs []Run) {
	fmt.Fprintf(w, "\n## Runs\n\n| run | commit | server built with | swload built with | machine | command |\n|---|---|---|---|---|---|\n")
	var sysctls map[string]string
	for _, r := range runs {
		m := r.Meta
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | `%s` (report: %s) |\n", r.Label, m.ServerCommit, m.ServerGo,
			m.Machine.GoVersion, MachineText(m.Machine), m.Command, strings.TrimSuffix(filepath.Base(r.Source), ".json")+".md")
		if sysctls == nil && len(m.Sysctls) > 0 {
			sysctls = m.Sysctls
		}
	}
	if sysctls != nil {
		fmt.Fprintln(w)
		WriteSysctls(w, sysctls)
	}
}

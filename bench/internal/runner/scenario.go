package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
)

// Result is one run of a measured scenario: what was run, on what, every
// repetition and their summary. It is the schema of <out>.json; a
// scenario names it with its load L, repetition R and summary S.
type Result[L, R, S any] struct {
	Name    string             `json:"name"`
	Meta    reportfile.RunMeta `json:"meta"`
	Load    L                  `json:"load"`
	Reps    []R                `json:"reps"`
	Summary S                  `json:"summary"`
	// Failure is empty when every repetition completed cleanly; otherwise
	// it says which did not and why. The summary covers the clean ones.
	Failure string `json:"failure,omitempty"`
}

// Conclusion is r in plain words: measured, what its clean repetitions
// (clean of them) showed, then every note that is not empty and which
// repetitions failed; only the failures when none was clean.
func (r *Result[L, R, S]) Conclusion(clean int, measured string, notes ...string) string {
	if clean == 0 {
		return fmt.Sprintf("%s: no clean repetition, nothing measured (%s).", r.Name, r.Failure)
	}
	out := measured
	for _, n := range notes {
		if n != "" {
			out += " " + n
		}
	}
	if r.Failure != "" {
		out += " Some repetitions FAILED: " + r.Failure
	}
	return out
}

// Repetition is a scenario's report of one repetition.
type Repetition[R any] interface {
	// Failed is the repetition marked as failed for why.
	Failed(why string) R
}

// Scenario is a measured scenario as Run drives it: L is its load, R its
// repetition, S its summary and W a pointer to its workers' report.
type Scenario[L any, R Repetition[R], S any, W Reporter] struct {
	Flags  Flags
	Timing Timing
	Load   L
	// Rep runs one repetition in s, whose server is up and which has no
	// workers yet. It returns the repetition as far as it got and why it
	// failed; Run marks it failed.
	Rep func(ctx context.Context, s *Session[W]) (R, error)
	// Measured is what the log says of a clean repetition: slog
	// attributes.
	Measured func(R) []any
	// Summarize summarizes the repetitions, failed ones included.
	Summarize func([]R) S
	// Markdown renders <out>.md.
	Markdown func(io.Writer, *Result[L, R, S])
	// Conclusion is a result in a line, for the log.
	Conclusion func(*Result[L, R, S]) string
}

// Run is `swload <scenario>` once its flags are parsed: every repetition
// against a fresh server, then the reports. It writes them even when a
// repetition fails, and returns an error in that case; an interrupted run
// (SIGINT, SIGTERM) writes none.
func (sc Scenario[L, R, S, W]) Run() error {
	ctx, stop, log := Start(sc.Flags.Name)
	defer stop()
	res, err := sc.run(ctx, log)
	if res == nil {
		return err
	}
	return Conclude(ctx, log, sc.Flags.Out, &res.Failure, err, func() error {
		res.Summary = sc.Summarize(res.Reps)
		return reportfile.Write(sc.Flags.Out, res, sc.Markdown)
	}, func() []any { return []any{"conclusion", sc.Conclusion(res)} })
}

func (sc Scenario[L, R, S, W]) run(ctx context.Context, log *slog.Logger) (*Result[L, R, S], error) {
	f := &sc.Flags
	setup, err := Prepare(f.ServerBin, f.Out)
	if err != nil {
		return nil, err
	}
	logFile, err := ServerLog(f.Out)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	res := &Result[L, R, S]{Name: f.Name, Load: sc.Load, Meta: reportfile.NewRunMeta(f.Repo, setup.ServerBin, setup.Nofile, Now())}
	defer func() { res.Meta.Finished = Now() }()
	res.Meta.SourceAddrs = SourceAddrs(f.SrcBase, f.Clients)
	res.Failure, err = Repeat(ctx, sc.Timing.Reps, logFile, log, func(i int) error {
		rep, err := sc.rep(ctx, log.With("rep", i+1), &res.Meta, setup.ServerBin, logFile)
		if err != nil {
			rep = rep.Failed(err.Error())
		}
		res.Reps = append(res.Reps, rep)
		return err
	}, func(i int) {
		log.Info("repetition measured", append([]any{"rep", i + 1}, sc.Measured(res.Reps[i])...)...)
	})
	return res, err
}

// rep is one repetition: a fresh server, fresh workers, one window.
func (sc Scenario[L, R, S, W]) rep(ctx context.Context, log *slog.Logger, meta *reportfile.RunMeta, serverBin string, logFile io.Writer) (R, error) {
	s := NewSession[W](log, &sc.Flags)
	defer s.Close()
	err := s.StartServer(ctx, serverBin, logFile)
	if s.Server != nil && meta.ServerArgs == nil {
		meta.ServerArgs = s.Server.Args
	}
	if err != nil {
		var none R
		return none, err
	}
	meta.NofileServer = sysinfo.ProcNofile(s.Server.Child.Pid())
	return sc.Rep(ctx, s)
}

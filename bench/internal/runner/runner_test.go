package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/runnertest"
)

// The test binary stands in for the processes a scenario starts: run as
// `<test binary> fake-server --addr A --admin-addr B` it is a server that
// keeps the server contract, and as `<test binary> fake-worker ...` it is
// a worker of the fake scenario below (workerproc starts workers as
// `<executable> <sub> <args>`).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "fake-server":
			if err := fakeServer(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, "fake-server:", err)
				os.Exit(1)
			}
			os.Exit(0)
		case "fake-worker":
			if err := fakeWorker(os.Args[2:], os.Stdin, os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, "fake-worker:", err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	// Scenario.Run asks for SIGINT and SIGTERM; the goroutine that
	// delivers signals, once started, lives as long as the process, so it
	// starts before the leak check counts.
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	signal.Stop(c)
	runnertest.Main(m)
}

// fakeServer answers /healthz and the admin endpoints until SIGTERM.
func fakeServer(args []string) error {
	fs := flag.NewFlagSet("fake-server", flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	admin := fs.String("admin-addr", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	public := http.NewServeMux()
	public.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	debug := http.NewServeMux()
	debug.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"conns":0,"goroutines":7}`)
	})
	servers := []*http.Server{{Addr: *addr, Handler: public}, {Addr: *admin, Handler: debug}}
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errs <- s.ListenAndServe() }()
	}
	select {
	case <-ctx.Done():
	case err := <-errs:
		return err
	}
	for _, s := range servers {
		_ = s.Close()
	}
	return nil
}

// The fake scenario: each worker reports its --value when ready and ten
// times it when finished, and counts the go it saw.
type (
	fakeLoad struct {
		Value int `json:"value"`
	}
	fakeRep struct {
		Ready    int          `json:"ready"`
		Finished int          `json:"finished"`
		Usage    runner.Usage `json:"usage"`
		Failure  string       `json:"failure,omitempty"`
	}
	fakeSummary struct {
		Clean int `json:"clean"`
	}
	fakeReport struct {
		runner.Header
		Value int `json:"value"`
	}
)

func (r fakeRep) Failed(why string) fakeRep {
	r.Failure = why
	return r
}

func fakeWorker(args []string, stdin io.Reader, stdout io.Writer) error {
	var wf runner.WorkerFlags
	fs := flag.NewFlagSet("fake-worker", flag.ContinueOnError)
	wf.Register(fs, "")
	value := fs.Int("value", 0, "")
	if err := runner.Parse(fs, args, &wf); err != nil {
		return err
	}
	return runner.Worker[*fakeReport]{
		Src:   wf.Src.String(),
		Setup: func() (*fakeReport, error) { return &fakeReport{Value: *value}, nil },
		Run: func(start time.Time) *fakeReport {
			time.Sleep(time.Until(start))
			return &fakeReport{Value: 10 * *value}
		},
	}.Serve(stdin, stdout)
}

// fakeScenario runs the fake scenario with --clients clients against the
// fake server; fail, when not nil, ends each repetition after the window.
func fakeScenario(t *testing.T, out string, clients int, fail error) runner.Scenario[fakeLoad, fakeRep, fakeSummary, *fakeReport] {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var f runner.Flags
	var tm runner.Timing
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	f.Register(fs, runner.FlagDefaults{ServerArgs: "fake-server", Name: "fake", Path: "/echo", Clients: clients})
	tm.Register(fs, 100*time.Millisecond, 0, "")
	if err := runner.Parse(fs, []string{"--server-bin", self, "--out", out, "--reps", "2"}, &f, &tm); err != nil {
		t.Fatal(err)
	}
	return runner.Scenario[fakeLoad, fakeRep, fakeSummary, *fakeReport]{
		Flags: f, Timing: tm, Load: fakeLoad{Value: 3},
		Rep: func(ctx context.Context, s *runner.Session[*fakeReport]) (fakeRep, error) {
			var rep fakeRep
			if !strings.HasPrefix(s.URL, "ws://127.0.0.1:") || !strings.HasSuffix(s.URL, "/echo") {
				return rep, fmt.Errorf("session URL %q", s.URL)
			}
			err := s.StartWorkers("fake-worker", func(i int, src net.IP) ([]string, bool) {
				return append(runner.WorkerFlags{Src: src, URL: s.URL}.Args(), "--value", fmt.Sprint(i+1)), true
			})
			if err != nil {
				return rep, err
			}
			if err := s.AwaitReady(ctx, 10*time.Second, func(src string, r *fakeReport) { rep.Ready += r.Value }); err != nil {
				return rep, err
			}
			m, err := s.Measure(ctx, 0, tm.Duration)
			if err != nil {
				return rep, err
			}
			rep.Usage = m.Usage()
			late, err := s.Finish(ctx, 10*time.Second, func(r *fakeReport) { rep.Finished += r.Value })
			if err != nil {
				return rep, err
			}
			if len(late) > 0 {
				return rep, errors.New(strings.Join(late, "; "))
			}
			return rep, fail
		},
		Measured: func(rep fakeRep) []any { return []any{"finished", rep.Finished} },
		Summarize: func(reps []fakeRep) fakeSummary {
			var s fakeSummary
			for _, r := range reps {
				if r.Failure == "" {
					s.Clean++
				}
			}
			return s
		},
		Markdown: func(w io.Writer, r *runner.Result[fakeLoad, fakeRep, fakeSummary]) {
			fmt.Fprintf(w, "# fake: %s\n", r.Conclusion(r.Summary.Clean, "all clean."))
		},
		Conclusion: func(r *runner.Result[fakeLoad, fakeRep, fakeSummary]) string {
			return r.Conclusion(r.Summary.Clean, "all clean.")
		},
	}
}

func readResult(t *testing.T, path string) runner.Result[fakeLoad, fakeRep, fakeSummary] {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var res runner.Result[fakeLoad, fakeRep, fakeSummary]
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestScenarioRun runs the fake scenario end to end: two repetitions, each
// with a fresh server and three worker processes on 127.0.0.2..4.
func TestScenarioRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fake")
	if err := fakeScenario(t, out, 3, nil).Run(); err != nil {
		t.Fatal(err)
	}
	res := readResult(t, out+".json")
	if res.Name != "fake" || res.Load.Value != 3 || res.Failure != "" || res.Summary.Clean != 2 || len(res.Reps) != 2 {
		t.Fatalf("result %+v", res)
	}
	for i, rep := range res.Reps {
		// Workers 1, 2 and 3 report 1+2+3 when ready and ten times that
		// when finished.
		if rep.Ready != 6 || rep.Finished != 60 || rep.Failure != "" {
			t.Errorf("rep %d: %+v", i+1, rep)
		}
		if rep.Usage.WindowSeconds <= 0 || rep.Usage.ServerRSS == 0 {
			t.Errorf("rep %d: usage %+v, want a measured window and the server's RSS", i+1, rep.Usage)
		}
	}
	m := res.Meta
	if got := strings.Join(m.SourceAddrs, ","); got != "127.0.0.2,127.0.0.3,127.0.0.4" {
		t.Errorf("source addresses %s", got)
	}
	if len(m.ServerArgs) != 5 || m.ServerArgs[0] != "fake-server" || m.ServerArgs[1] != "--addr" || m.NofileServer == "" ||
		m.Started == "" || m.Finished == "" {
		t.Errorf("meta %+v", m)
	}
	md, err := os.ReadFile(out + ".md")
	if err != nil || string(md) != "# fake: all clean.\n" {
		t.Errorf("markdown %q, %v", md, err)
	}
	if _, err := os.Stat(out + ".server.log"); err != nil {
		t.Error(err)
	}
}

// TestScenarioRunFailedReps: a repetition that fails is kept with its
// failure, the run says which, the reports are still written and Run
// returns the error.
func TestScenarioRunFailedReps(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fake")
	err := fakeScenario(t, out, 1, errors.New("boom")).Run()
	if err == nil || err.Error() != "repetition 1: boom; repetition 2: boom" {
		t.Fatalf("Run returned %v", err)
	}
	res := readResult(t, out+".json")
	if res.Failure != err.Error() || res.Summary.Clean != 0 || len(res.Reps) != 2 || res.Reps[1].Failure != "boom" || res.Reps[1].Finished != 10 {
		t.Fatalf("result %+v", res)
	}
	md, _ := os.ReadFile(out + ".md")
	if !strings.Contains(string(md), "fake: no clean repetition, nothing measured (repetition 1: boom; repetition 2: boom).") {
		t.Errorf("markdown %q", md)
	}
}

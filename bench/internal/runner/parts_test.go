package runner_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/runnertest"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// controllerFlags parses args as a scenario with every group of controller
// flags would.
func controllerFlags(args ...string) (runner.Flags, runner.Timing, runner.Dialing, error) {
	var f runner.Flags
	var tm runner.Timing
	var d runner.Dialing
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.Register(fs, runner.FlagDefaults{ServerArgs: "serve", Path: "/p", Clients: 3})
	tm.Register(fs, 5*time.Second, time.Second, "")
	d.Register(fs)
	err := runner.Parse(fs, args, &f, &tm, &d)
	return f, tm, d, err
}

func TestFlags(t *testing.T) {
	ok := []string{"--server-bin", "b", "--name", "n", "--out", "o"}
	f, tm, d, err := controllerFlags(ok...)
	if err != nil {
		t.Fatal(err)
	}
	if f.ServerArgs != "serve" || f.Path != "/p" || f.Clients != 3 || f.Repo != "." || f.SrcBase.String() != "127.0.0.2" ||
		f.HealthWait != 30*time.Second || tm.Reps != 1 || tm.Duration != 5*time.Second || tm.Warmup != time.Second ||
		d.Concurrency != 32 || d.MaxPerClient != 5000 {
		t.Errorf("defaults: %+v %+v %+v", f, tm, d)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "n", "--out", "o"}, "--server-bin is required"},
		{[]string{"--server-bin", "b", "--out", "o"}, "--name is required"},
		{[]string{"--server-bin", "b", "--name", "n"}, "--out is required"},
		{append(ok, "--clients", "0"), "--clients must be between 1 and 200"},
		{append(ok, "--clients", "201"), "--clients must be between 1 and 200"},
		{append(ok, "--src-base", "10.0.0.1"), `--src-base "10.0.0.1" must be an IPv4 loopback address`},
		{append(ok, "--src-base", "::1"), `--src-base "::1" must be an IPv4 loopback address`},
		{append(ok, "--duration", "0s"), "--duration must be positive and --warmup not negative"},
		{append(ok, "--warmup", "-1s"), "--duration must be positive and --warmup not negative"},
		{append(ok, "--reps", "0"), "--reps must be at least 1"},
		{append(ok, "--dial-concurrency", "0"), "--dial-concurrency must be at least 1"},
		{append(ok, "stray"), `unexpected argument "stray"`},
	} {
		if _, _, _, err := controllerFlags(tc.args...); err == nil || err.Error() != tc.want {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestFlagsNameDefault(t *testing.T) {
	var f runner.Flags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f.Register(fs, runner.FlagDefaults{Name: "switchboard-epoll", Clients: 1})
	if err := runner.Parse(fs, []string{"--server-bin", "b", "--out", "o"}, &f); err != nil || f.Name != "switchboard-epoll" {
		t.Errorf("name %q, %v", f.Name, err)
	}
}

func TestWorkerFlags(t *testing.T) {
	parse := func(args ...string) (runner.WorkerFlags, runner.WorkerDialing, error) {
		var w runner.WorkerFlags
		var d runner.WorkerDialing
		fs := flag.NewFlagSet("w", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		w.Register(fs, "")
		d.Register(fs)
		return w, d, runner.Parse(fs, args, &w, &d)
	}
	w, d, err := parse("--src", "127.0.0.9", "--url", "ws://x/")
	if err != nil || w.Src.String() != "127.0.0.9" || w.URL != "ws://x/" || d.Concurrency != 32 || d.Timeout != 10*time.Second {
		t.Fatalf("%+v %+v %v", w, d, err)
	}
	// What the controller passes on parses back to the same.
	if again, _, err := parse(w.Args()...); err != nil || again.Src.String() != "127.0.0.9" || again.URL != w.URL {
		t.Errorf("Args %v parse back as %+v, %v", w.Args(), again, err)
	}
	for _, bad := range [][]string{{"--url", "ws://x/", "--src", "10.1.1.1"}, {"--src", "127.0.0.2"}, {"--url", "u", "--dial-concurrency", "0"}} {
		if _, _, err := parse(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestShare(t *testing.T) {
	for _, tc := range []struct{ total, n int }{{10, 3}, {2, 5}, {0, 4}, {19000, 4}, {7, 1}} {
		sum, prev := 0, tc.total
		for i := range tc.n {
			s := runner.Share(tc.total, tc.n, i)
			if s > prev || prev-s > 1 && i > 0 {
				t.Errorf("Share(%d, %d, %d) = %d after %d: shares must fall by at most one", tc.total, tc.n, i, s, prev)
			}
			sum, prev = sum+s, s
		}
		if sum != tc.total {
			t.Errorf("shares of %d over %d add up to %d", tc.total, tc.n, sum)
		}
	}
}

func TestUsageAndNoise(t *testing.T) {
	m := runner.Measurement{Window: runner.Window{Seconds: 2, ServerCPU: 1, ClientCPU: 0.5, OtherCPUCores: 0.3, StealCores: 0.1},
		Server: procfs.Status{VmRSS: 123}}
	u := m.Usage()
	if u.ServerCPUCores != 0.5 || u.ClientCPUSeconds != 0.5 || u.WindowSeconds != 2 || u.ServerRSS != 123 || u.Other() != 0.4 {
		t.Errorf("usage %+v", u)
	}
	if u := (runner.Measurement{}).Usage(); u.ServerCPUCores != 0 || u.Other() != 0 {
		t.Errorf("usage of an empty window %+v", u)
	}
	var n runner.Noise
	n.Add(u)
	if n.NoisyReps != 1 || n.OtherCPUMax != u.Other() {
		t.Errorf("noise %+v", n)
	}
	n.Add(runner.Usage{OtherCPUCores: summary.NoiseCores})
	if n.NoisyReps != 1 {
		t.Errorf("at exactly NoiseCores a repetition is quiet: %+v", n)
	}
	if got := n.Note(3, "."); got != "NOISY: other processes used up to 0.40 cores during 1 of 3 repetitions." {
		t.Errorf("note %q", got)
	}
	if got := (runner.Noise{}).Note(3, "."); got != "" {
		t.Errorf("quiet note %q", got)
	}
}

func TestConclusion(t *testing.T) {
	r := &runner.Result[int, int, int]{Name: "sb"}
	if got := r.Conclusion(2, "fast.", "", "NOISY: yes."); got != "fast. NOISY: yes." {
		t.Errorf("clean run: %q", got)
	}
	r.Failure = "repetition 3: boom"
	if got := r.Conclusion(2, "fast."); got != "fast. Some repetitions FAILED: repetition 3: boom" {
		t.Errorf("partly failed run: %q", got)
	}
	if got := r.Conclusion(0, "fast."); got != "sb: no clean repetition, nothing measured (repetition 3: boom)." {
		t.Errorf("failed run: %q", got)
	}
}

func TestRepeatAndConclude(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var marks bytes.Buffer
	var measured []int
	failure, err := runner.Repeat(context.Background(), 3, &marks, log, func(i int) error {
		if i == 1 {
			return errors.New("boom")
		}
		return nil
	}, func(i int) { measured = append(measured, i) })
	if err != nil || failure != "repetition 2: boom" || len(measured) != 2 || measured[1] != 2 ||
		!strings.Contains(marks.String(), "=== repetition 3 of 3 ===") {
		t.Fatalf("Repeat: %q, %v, measured %v, marks %q", failure, err, measured, marks.String())
	}

	written := 0
	write := func() error { written++; return nil }
	if err := runner.Conclude(context.Background(), log, "o", &failure, nil, write, nil); err == nil || err.Error() != failure || written != 1 {
		t.Errorf("a failed run: %v, written %d", err, written)
	}
	none := ""
	runErr := errors.New("broken tooling")
	if err := runner.Conclude(context.Background(), log, "o", &none, runErr, write, nil); err != runErr || none != runErr.Error() || written != 2 {
		t.Errorf("a run that could not go on: %v, failure %q, written %d", err, none, written)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := runner.Conclude(ctx, log, "o", &none, ctx.Err(), write, nil); err == nil || written != 2 {
		t.Errorf("an interrupted run: %v, written %d", err, written)
	}
}

// testWorker is a worker whose Setup, Run and Close the tests watch.
type testWorker struct {
	setupErr error
	started  chan time.Time
	closed   int
}

func (tw *testWorker) serve(stdin io.Reader, stdout io.Writer) error {
	return runner.Worker[*fakeReport]{
		Src: "127.0.0.7",
		Setup: func() (*fakeReport, error) {
			if tw.setupErr != nil {
				return nil, tw.setupErr
			}
			return &fakeReport{Value: 1}, nil
		},
		Run: func(start time.Time) *fakeReport {
			tw.started <- start
			return &fakeReport{Value: 2}
		},
		Close: func() { tw.closed++ },
	}.Serve(stdin, stdout)
}

func TestWorkerServe(t *testing.T) {
	tw := &testWorker{started: make(chan time.Time, 1)}
	p := runnertest.Start[*fakeReport](t, tw.serve)
	ready := p.Next(runner.EvReady)
	if ready.Value != 1 || ready.Pid != os.Getpid() || ready.Src != "127.0.0.7" {
		t.Fatalf("ready %+v", ready)
	}
	// A start already 200 ms past: the worker runs at once and says how
	// late it saw it.
	start := time.Now().Add(-200 * time.Millisecond)
	p.Send(runner.Command{Op: runner.OpGo, StartUnixNano: start.UnixNano()})
	if got := <-tw.started; !got.Equal(start) {
		t.Errorf("Run got start %v, want %v", got, start)
	}
	fin := p.Next(runner.EvFinished)
	if fin.Value != 2 || fin.Src != "127.0.0.7" || time.Duration(fin.LateStartNS) < 200*time.Millisecond {
		t.Errorf("finished %+v", fin)
	}
	p.Send(runner.Command{Op: runner.OpQuit})
	if bye := p.Next(runner.EvBye); bye.Src != "127.0.0.7" {
		t.Errorf("bye %+v", bye)
	}
	if err := p.Wait(); err != nil || tw.closed < 1 {
		t.Errorf("worker returned %v, closed %d times", err, tw.closed)
	}
}

func TestWorkerServeEnds(t *testing.T) {
	t.Run("EOF before go", func(t *testing.T) {
		tw := &testWorker{}
		p := runnertest.Start[*fakeReport](t, tw.serve)
		p.Next(runner.EvReady)
		if err := p.Wait(); err != nil || tw.closed != 1 {
			t.Errorf("worker returned %v, closed %d times", err, tw.closed)
		}
	})
	t.Run("unknown op", func(t *testing.T) {
		tw := &testWorker{}
		p := runnertest.Start[*fakeReport](t, tw.serve)
		p.Next(runner.EvReady)
		p.Send(runner.Command{Op: "dance"})
		if err := p.Wait(); err == nil || !strings.Contains(err.Error(), `unexpected op "dance"`) || tw.closed != 1 {
			t.Errorf("worker returned %v, closed %d times", err, tw.closed)
		}
	})
	t.Run("setup fails", func(t *testing.T) {
		tw := &testWorker{setupErr: errors.New("no loop")}
		p := runnertest.Start[*fakeReport](t, tw.serve)
		if err := p.Wait(); err != tw.setupErr || tw.closed != 0 {
			t.Errorf("worker returned %v, closed %d times", err, tw.closed)
		}
	})
}

package postgres

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/store"
)

// BenchmarkAppend measures acked appends per second: many goroutines, as
// the engine's worker pool would, each calling Append and waiting for its
// commit before the next, with ~100-byte bodies spread over a few or many
// rooms. Every message is durable (as the server's fsync and
// synchronous_commit make it) when Append returns. msgs/s is the figure;
// msgs/commit is how full the group commits ran; p50-ms and p99-ms the time
// from Append to its ack. scripts/bench-store.sh
// runs it against a PostgreSQL with fsync on and writes the report.
func BenchmarkAppend(b *testing.B) {
	cases := []struct{ goroutines, rooms, committers int }{
		{1, 1, 0}, {64, 1, 0}, {64, 4, 0}, {256, 4, 0}, {64, 1000, 0}, {256, 1000, 0},
		// 1,024 appends in flight: a server with thousands of publishing
		// connections (each may have 64 in flight) keeps at least that many.
		{1024, 4, 0}, {1024, 1000, 0},
		// More transactions in flight at once (one pool connection each);
		// 4 was the default before it became one per 2 CPUs.
		{256, 4, 2}, {256, 1000, 2}, {1024, 4, 2}, {1024, 1000, 2}, {256, 4, 4}, {256, 1000, 4},
	}
	for _, c := range cases {
		name := fmt.Sprintf("goroutines=%d/rooms=%d", c.goroutines, c.rooms)
		opts := Options{}
		if c.committers > 0 {
			name += fmt.Sprintf("/committers=%d", c.committers)
			opts = Options{Committers: c.committers, MaxConns: c.committers + 4}
		}
		b.Run(name, func(b *testing.B) { benchAppend(b, c.goroutines, c.rooms, opts) })
	}
}

func benchAppend(b *testing.B, goroutines, rooms int, opts Options) {
	s := openTest(b, opts)
	logServerSettings(b, s)
	ctx := b.Context()
	for r := range rooms {
		if _, err := s.CreateRoom(ctx, store.Room{ID: fmt.Sprintf("r%d", r), CreatedBy: "owner"}); err != nil {
			b.Fatal(err)
		}
	}
	body := json.RawMessage(fmt.Sprintf(`{"text":%q}`, strings.Repeat("x", 88))) // 100 bytes
	var (
		next   atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	// Each goroutine's ack latencies, merged after the run.
	latencies := make([][]time.Duration, goroutines)
	commits0, msgs0 := s.commitCount.Load(), s.committedCount.Load()
	b.ReportAllocs()
	b.ResetTimer()
	server0, client0 := serverCPU(b, s, nil), clientCPU()
	start := time.Now()
	for g := range goroutines {
		wg.Go(func() {
			from := fmt.Sprintf("user%d", g)
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				m := store.Message{Room: fmt.Sprintf("r%d", int(i)%rooms), From: from, ID: fmt.Sprint(i), Body: body}
				t0 := time.Now()
				_, dup, err := s.Append(ctx, m)
				latencies[g] = append(latencies[g], time.Since(t0))
				if err != nil || dup {
					failed.CompareAndSwap(nil, fmt.Sprintf("Append %d: dup=%v err=%v", i, dup, err))
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	server1, client1 := serverCPU(b, s, server0), clientCPU()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	all := slices.Concat(latencies...)
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
	if total, ok := server1.total(server0); ok {
		b.ReportMetric(total.Seconds()*1e6/float64(b.N), "server-cpu-µs/msg")
	}
	b.ReportMetric((client1-client0).Seconds()*1e6/float64(b.N), "client-cpu-µs/msg")
	if commits := s.commitCount.Load() - commits0; commits > 0 {
		b.ReportMetric(float64(s.committedCount.Load()-msgs0)/float64(commits), "msgs/commit")
	}
}

// logServerSettings records what makes the figures durable or not.
func logServerSettings(b *testing.B, s *Store) {
	var version, fsync, syncCommit string
	err := s.pool.QueryRow(b.Context(), `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit')`).Scan(&version, &fsync, &syncCommit)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("PostgreSQL %s, fsync=%s, synchronous_commit=%s", version, fsync, syncCommit)
}

// cpuTimes is CPU time by process id.
type cpuTimes map[int]time.Duration

// serverCPU reads the CPU time of every PostgreSQL process (backends and
// background processes, from pg_stat_activity) and of those in prev, from
// /proc: the server runs on this machine in the benchmark's setup. nil when
// /proc cannot be read.
func serverCPU(b *testing.B, s *Store, prev cpuTimes) cpuTimes {
	rows, err := s.pool.Query(b.Context(), `SELECT pid FROM pg_stat_activity`)
	if err != nil {
		b.Fatal(err)
	}
	out := cpuTimes{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		out[pid] = 0
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	for pid := range prev {
		out[pid] = 0
	}
	for pid := range out {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			if prev != nil { // exited meanwhile: its time is lost, keep the start value
				out[pid] = prev[pid]
				continue
			}
			return nil
		}
		// Fields after the parenthesised command: utime and stime are the
		// 12th and 13th, in clock ticks (100 per second on Linux).
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		f := strings.Fields(rest)
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return out
}

// total is the CPU time used since prev, over the processes in either.
func (c cpuTimes) total(prev cpuTimes) (time.Duration, bool) {
	if c == nil || prev == nil {
		return 0, false
	}
	var d time.Duration
	for pid, t := range c {
		d += t - prev[pid]
	}
	return d, true
}

// clientCPU is this process's CPU time so far.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

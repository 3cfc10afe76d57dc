package room

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/servicetest"
)

// BenchmarkPublishPostgres measures acked publishes per second through the
// whole server on a real PostgreSQL (scripts/services.sh), with the store
// used asynchronously (store.AsyncAppender, the default) and, for
// comparison, synchronously (Append on the worker, as a store without
// AppendAsync is used). One iteration is one acked publish. 64 publishers
// in 16 rooms (4 members each, every one receiving the room's messages)
// each keep 8 publishes unacked; the engine has 4 workers, as 2 per CPU
// on a 2-core machine. Run it with a fixed count, e.g.
// -benchtime=5000x: every run sets up a fresh database.
func BenchmarkPublishPostgres(b *testing.B) {
	for _, mode := range []string{"sync", "async"} {
		b.Run("mode="+mode, func(b *testing.B) { benchPublishPostgres(b, mode == "async") })
	}
}

func benchPublishPostgres(b *testing.B, async bool) {
	const publishers, rooms, window = 64, 16, 8
	pg, err := postgres.Open(context.Background(), servicetest.PostgresURL(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pg.Close() })
	var st store.Store = pg
	if !async {
		st = struct{ store.Store }{pg} // hides AppendAsync
	}
	s := startServer(b, func(e *engine.Config, c *Config) {
		e.Workers = 4
		c.Store = st
		unlimited(c)
	})
	if (s.svc.async != nil) != async {
		b.Fatalf("async = %v, want %v", s.svc.async != nil, async)
	}
	addr := s.e.Addr().String()
	conns := make([]*rawConn, publishers)
	for i := range conns {
		c := dialRaw(b, addr, "p"+strconv.Itoa(i))
		conns[i] = c
		room := "r" + strconv.Itoa(i%rooms)
		if i < rooms {
			c.send(b, `{"type":"create","room":"`+room+`"}`)
			c.await(b, "created")
		}
		c.send(b, `{"type":"join","room":"`+room+`"}`)
		c.await(b, "joined")
	}
	commits0, msgs0 := pg.CommitStats()

	var sent, acked atomic.Int64
	n := int64(b.N)
	done := make(chan struct{})
	var wg sync.WaitGroup
	b.ResetTimer()
	for i, c := range conns {
		tokens := make(chan struct{}, window)
		for range window {
			tokens <- struct{}{}
		}
		room := "r" + strconv.Itoa(i%rooms)
		wg.Go(func() { // writer
			for range tokens {
				k := sent.Add(1)
				if k > n {
					return
				}
				if err := c.write(0x1, []byte(`{"type":"publish","room":"`+room+`","id":"`+strconv.FormatInt(k, 10)+`","body":{"n":`+strconv.FormatInt(k, 10)+`}}`)); err != nil {
					return
				}
			}
		})
		wg.Go(func() { // reader: acks return tokens
			defer close(tokens)
			for {
				p, err := c.next()
				if err != nil {
					if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
						b.Error(err)
					}
					return
				}
				switch {
				case bytes.HasPrefix(p, []byte(`{"type":"ack"`)):
					if acked.Add(1) == n {
						close(done)
					}
					tokens <- struct{}{}
				case bytes.HasPrefix(p, []byte(`{"type":"error"`)):
					b.Errorf("%s: %s", c.user, p)
					return
				}
			}
		})
	}
	<-done
	b.StopTimer()
	for _, c := range conns {
		c.conn.Close()
	}
	wg.Wait()
	commits, msgs := pg.CommitStats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
	if commits > commits0 {
		b.ReportMetric(float64(msgs-msgs0)/float64(commits-commits0), "msgs/commit")
	}
}

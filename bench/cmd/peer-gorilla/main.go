// Command peer-gorilla is the reference point for side-by-side benchmarks:
// a github.com/gorilla/websocket echo server in the classic design, one
// goroutine per connection blocked in ReadMessage, with net/http's
// per-connection buffers. It serves the same contract as `switchboard
// serve`: --addr, --admin-addr, /echo, /healthz, and the admin endpoints
// /debug/stats and /debug/gc. It exits on SIGTERM or SIGINT.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "WebSocket listen address")
	adminAddr := flag.String("admin-addr", "127.0.0.1:8081", "admin listen address (/debug/stats, /debug/gc)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *adminAddr, log); err != nil {
		log.Error("peer-gorilla failed", "err", err)
		os.Exit(1)
	}
}

func run(addr, adminAddr string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	var conns atomic.Int64
	upgrader := websocket.Upgrader{
		// Benchmark clients send no Origin; accept everything.
		CheckOrigin: func(*http.Request) bool { return true },
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has already answered with an HTTP error.
		}
		conns.Add(1)
		defer conns.Add(-1)
		defer c.Close()
		// The classic design: this goroutine lives as long as the
		// connection. gorilla answers pings and closes inside ReadMessage.
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	})

	admin := http.NewServeMux()
	admin.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"conns":       conns.Load(),
			"goroutines":  runtime.NumGoroutine(),
			"heap_alloc":  ms.HeapAlloc,
			"heap_inuse":  ms.HeapInuse,
			"heap_sys":    ms.HeapSys,
			"stack_inuse": ms.StackInuse,
			"sys":         ms.Sys,
			"num_gc":      ms.NumGC,
		})
	})
	admin.HandleFunc("POST /debug/gc", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	aln, err := net.Listen("tcp", adminAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen admin %s: %w", adminAddr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	asrv := &http.Server{Handler: admin, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- asrv.Serve(aln) }()
	log.Info("peer-gorilla listening", "addr", ln.Addr().String(), "admin", aln.Addr().String())

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// Hijacked WebSocket connections are not tracked by http.Server; they
	// end when the process exits.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	_ = asrv.Shutdown(sctx)
	log.Info("peer-gorilla stopped", "conns", conns.Load())
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

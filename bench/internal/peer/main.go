package peer

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"
)

// App is what a transport serves: the connection count the admin listener
// reports, the room hub, and a logger.
type App struct {
	Conns atomic.Int64
	Hub   *Hub
	Log   *slog.Logger
}

// Transport serves /healthz, /echo and /ws for app on addr until ctx is
// done, then stops listening and returns. Upgraded connections may outlive
// it; they end when the process exits.
type Transport func(ctx context.Context, addr string, app *App) error

// UserOf is the chat user of an upgrade request: ?user=, as switchboard's
// --auth none takes it.
func UserOf(u *url.URL) string { return u.Query().Get("user") }

// Main is a peer server's main: it parses --addr and --admin-addr, serves
// the admin endpoints, runs transport until SIGTERM or SIGINT and exits
// with status 1 if either fails.
func Main(name string, transport Transport) {
	addr := flag.String("addr", "127.0.0.1:8080", "WebSocket listen address (/echo, /ws, /healthz)")
	adminAddr := flag.String("admin-addr", "127.0.0.1:8081", "admin listen address (/debug/stats, /debug/gc)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(name, *addr, *adminAddr, transport, log); err != nil {
		log.Error(name+" failed", "err", err)
		os.Exit(1)
	}
}

func run(name, addr, adminAddr string, transport Transport, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	raiseNofile(log)
	app := &App{Hub: NewHub(), Log: log}
	aln, err := net.Listen("tcp", adminAddr)
	if err != nil {
		return fmt.Errorf("listen admin %s: %w", adminAddr, err)
	}
	asrv := &http.Server{Handler: AdminHandler(app), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = asrv.Serve(aln) }()
	defer asrv.Close()
	log.Info(name+" starting", "addr", addr, "admin", aln.Addr().String(), "go", runtime.Version())
	err = transport(ctx, addr, app)
	log.Info(name+" stopped", "conns", app.Conns.Load())
	return err
}

// AdminHandler serves GET /debug/stats and POST /debug/gc for app, with
// the fields swload reads.
func AdminHandler(app *App) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"conns":       app.Conns.Load(),
			"goroutines":  runtime.NumGoroutine(),
			"heap_alloc":  ms.HeapAlloc,
			"heap_inuse":  ms.HeapInuse,
			"heap_sys":    ms.HeapSys,
			"stack_inuse": ms.StackInuse,
			"sys":         ms.Sys,
			"num_gc":      ms.NumGC,
		})
	})
	mux.HandleFunc("POST /debug/gc", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// healthz answers GET /healthz on the public listener, as switchboard does.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok\n"))
}

// serveHTTP runs srv on a listener for addr until ctx is done, then shuts
// it down (hijacked WebSocket connections are not tracked by http.Server).
func serveHTTP(ctx context.Context, addr string, srv *http.Server) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// raiseNofile lifts the soft RLIMIT_NOFILE to the hard limit, as
// switchboard serve does, so every server gets the same fd budget.
func raiseNofile(log *slog.Logger) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		log.Warn("cannot read RLIMIT_NOFILE", "err", err)
		return
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		log.Warn("cannot raise RLIMIT_NOFILE", "err", err)
	}
}

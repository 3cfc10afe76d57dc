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
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/poller"
)

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg engine.Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "public listen address")
	fs.StringVar(&cfg.Backend, "backend", "epoll", "poller backend: "+strings.Join(poller.Backends, " or "))
	fs.IntVar(&cfg.Loops, "loops", 0, "event loops (0: one per CPU)")
	fs.IntVar(&cfg.Workers, "workers", 0, "worker goroutines (0: 2 per CPU)")
	fs.IntVar(&cfg.WorkerQueue, "worker-queue", 0, "messages queued per worker before reads pause (0: 4096)")
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "open connections above which new ones get 503 (0: no cap)")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", 10*time.Second, "time allowed for the upgrade request")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", 30*time.Second, "silence before the server pings a client")
	fs.DurationVar(&cfg.PongTimeout, "pong-timeout", 15*time.Second, "time a pinged client has to answer")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 0, "close clients that send no message for this long (0: never)")
	fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", 8192, "largest upgrade request")
	fs.Int64Var(&cfg.MaxFrameBytes, "max-frame-bytes", 1<<20, "largest inbound frame payload")
	fs.Int64Var(&cfg.MaxMessageBytes, "max-message-bytes", 1<<20, "largest inbound message")
	fs.IntVar(&cfg.OutboundBudget, "outbound-budget", 4<<20, "bytes queued per client before it is closed as a slow consumer")
	fs.BoolVar(&cfg.Compression, "compression", false, "negotiate permessage-deflate")
	registerLimitFlags(fs, &cfg)
	echo := fs.Bool("echo", false, "serve an RFC 6455 echo endpoint at /echo")
	var chat chatFlags
	chat.register(fs)
	adminAddr := fs.String("admin-addr", "", "admin listener for /debug/stats, /debug/gc and /debug/pprof (empty: off)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "time to drain connections on SIGINT/SIGTERM")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	log, err := newLogger(*logFormat, *logLevel)
	if err != nil {
		return err
	}
	cfg.Logger = log
	raiseFileLimit(log)
	if err := chat.engineConfig(&cfg); err != nil {
		return err
	}

	e, err := engine.New(cfg)
	if err != nil {
		return err
	}
	if *echo {
		e.Handle("/echo", engine.Echo{})
	}
	svc, err := chat.service(e, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	e.Handle("/ws", svc)
	if err := e.Start(); err != nil {
		return err
	}
	var admin *http.Server
	if *adminAddr != "" {
		if admin, err = startAdmin(*adminAddr, e, log); err != nil {
			e.Shutdown(context.Background())
			return err
		}
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info("shutting down", "signal", s.String(), "timeout", shutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	drainErr := e.Shutdown(ctx)
	if admin != nil {
		admin.Close()
	}
	if drainErr != nil {
		log.Warn("drain incomplete", "err", drainErr)
	}
	log.Info("stopped")
	return nil
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, got %q", format)
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: every
// connection is a file descriptor.
func raiseFileLimit(log *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("cannot read RLIMIT_NOFILE", "err", err)
		return
	}
	if lim.Cur < lim.Max {
		old := lim.Cur
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			log.Warn("cannot raise RLIMIT_NOFILE", "err", err)
			return
		}
		log.Info("raised open-file limit", "from", old, "to", lim.Cur)
	}
	log.Info("open-file limit", "soft", lim.Cur, "hard", lim.Max)
}

// startAdmin serves operator endpoints on their own listener, which should
// stay on loopback: they reveal internals and can force a GC.
func startAdmin(addr string, e *engine.Engine, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, r *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := e.Stats()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"conns": st.Conns, "handshaking": st.Handshaking, "goroutines": runtime.NumGoroutine(),
			"heap_alloc": ms.HeapAlloc, "heap_inuse": ms.HeapInuse, "heap_sys": ms.HeapSys,
			"stack_inuse": ms.StackInuse, "sys": ms.Sys, "num_gc": ms.NumGC, "engine": st,
		})
	})
	mux.HandleFunc("POST /debug/gc", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if e.Draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener failed", "err", err)
		}
	}()
	log.Info("admin listening", "addr", ln.Addr().String())
	return srv, nil
}

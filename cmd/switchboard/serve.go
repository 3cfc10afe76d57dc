package main

//go:generate go run . config-doc ../../docs/configuration.md

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard-chat/switchboard/cmd/switchboard/internal/admin"
	"github.com/switchboard-chat/switchboard/cmd/switchboard/internal/config"
	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/poller"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/instrumented"
	"github.com/switchboard-chat/switchboard/web"
)

// serveOptions is everything serve reads from its settings.
type serveOptions struct {
	engine          engine.Config
	echo            bool
	dashboard       bool
	chat            chatFlags
	adminAddr       string
	shutdownTimeout time.Duration
	logFormat       string
	logLevel        string
}

// serveSettings declares every serve setting: each is one line, and the
// same declaration gives its flag, SWITCHBOARD_* variable, config-file
// key, --help entry and docs/configuration.md row.
func serveSettings() (*config.Set, *serveOptions) {
	o := &serveOptions{}
	cfg := &o.engine
	fs := config.NewSet("switchboard serve", "SWITCHBOARD_")
	fs.Summary = "Runs the WebSocket engine and the chat service at /ws until SIGINT or SIGTERM,\n" +
		"then drains (docs/protocol.md, Graceful shutdown). Reference: docs/configuration.md."
	fs.Group("Config file")
	fs.ConfigFile("config", "YAML file of settings: one key per setting, named as the flag")

	fs.Group("Listener and engine")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "public listen address")
	fs.StringVar(&cfg.Backend, "backend", "epoll", "poller backend").OneOf(poller.Backends...)
	fs.IntVar(&cfg.Loops, "loops", 0, "event loops (0: one per CPU)").NonNegative()
	fs.IntVar(&cfg.Workers, "workers", 0, "worker goroutines (0: 2 per CPU)").NonNegative()
	fs.IntVar(&cfg.WorkerQueue, "worker-queue", 0, "messages queued per worker before reads pause (0: 4096)").NonNegative()
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "open connections above which new ones get 503 (0: no cap)").NonNegative()
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", 10*time.Second, "time allowed for the upgrade request").Positive()
	fs.DurationVar(&cfg.PingInterval, "ping-interval", 30*time.Second, "silence before the server pings a client").Positive()
	fs.DurationVar(&cfg.PongTimeout, "pong-timeout", 15*time.Second, "time a pinged client has to answer").Positive()
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 0, "close clients that send no message for this long (0: never)").NonNegative()
	fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", 8192, "largest upgrade request").Positive()
	fs.Int64Var(&cfg.MaxFrameBytes, "max-frame-bytes", 1<<20, "largest inbound frame payload").Positive()
	fs.Int64Var(&cfg.MaxMessageBytes, "max-message-bytes", 1<<20, "largest inbound message").Positive()
	fs.IntVar(&cfg.OutboundBudget, "outbound-budget", 4<<20, "bytes queued per client before it is closed as a slow consumer").Positive()
	fs.BoolVar(&cfg.Compression, "compression", false, "negotiate permessage-deflate")
	fs.BoolVar(&o.echo, "echo", false, "serve an RFC 6455 echo endpoint at /echo")
	fs.BoolVar(&o.dashboard, "dashboard", true, "serve the live dashboard at /dashboard (the chat page at / is always served)")

	fs.Group("Admission")
	registerLimitFlags(fs, cfg)

	fs.Group("Chat")
	o.chat.register(fs)

	fs.Group("Operations")
	fs.StringVar(&o.adminAddr, "admin-addr", "127.0.0.1:9090",
		"admin listener: /metrics, /healthz, /readyz, /debug/pprof/, /debug/stats, POST /debug/gc; keep it off public addresses (empty: off)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "time to drain connections on SIGINT/SIGTERM").Positive()
	fs.DurationVar(&cfg.ReconnectWindow, "reconnect-window", 5*time.Second,
		"at shutdown each client is told to reconnect after a random delay below this").Positive()
	fs.StringVar(&o.logFormat, "log-format", "text", "log format").OneOf("text", "json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level").OneOf("debug", "info", "warn", "error")
	return fs, o
}

func serve(args []string) error {
	fs, o := serveSettings()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	log, err := newLogger(o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	if changed := fs.Changed(); len(changed) > 0 {
		log.Info("settings", "set", changed)
	}
	for _, name := range fs.UnknownEnv() {
		log.Warn("environment variable names no setting; ignored", "name", name)
	}
	cfg := o.engine
	cfg.Logger = log
	raiseFileLimit(log)
	if err := o.chat.engineConfig(&cfg); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	bi := readBuildInfo()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		admin.BuildInfo(bi.version, bi.revision, bi.goVersion))
	var st store.Store
	o.chat.wrapStore = func(s store.Store) (store.Store, error) {
		ist, err := instrumented.New(s, reg)
		st = ist
		return ist, err
	}

	e, err := engine.New(cfg)
	if err != nil {
		return err
	}
	if o.echo {
		e.Handle("/echo", engine.Echo{})
	}
	svc, err := o.chat.service(e, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	e.Handle("/ws", svc)
	site, err := web.Register(web.Options{Engine: e, Chat: svc.Stats, Auth: o.chat.authMode, NoDashboard: !o.dashboard})
	if err != nil {
		return err
	}
	defer site.Close()
	reg.MustRegister(admin.NewEngineCollector(e, cfg.MaxConns), admin.NewRoomCollector(svc))

	// Readiness checks: one line per subsystem that can fail.
	adm := admin.New(admin.Config{Addr: o.adminAddr, Registry: reg, Logger: log})
	adm.AddCheck("store", st.Health)
	if o.chat.bus != nil {
		adm.AddCheck("redis", o.chat.bus.Health)
	}
	adm.Handle("GET /debug/stats", admin.DebugStats(e))
	adm.Handle("POST /debug/gc", admin.DebugGC())
	if err := e.Start(); err != nil {
		return err
	}
	if o.adminAddr != "" {
		if err := adm.Start(); err != nil {
			e.Shutdown(context.Background())
			return fs.Errorf("admin-addr", "%v", err)
		}
		defer adm.Close()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info("shutting down", "signal", s.String(), "timeout", o.shutdownTimeout.String())
	adm.StartDraining() // /readyz fails before the listener closes
	ctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		log.Warn("drain incomplete", "err", err)
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

package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a Server. Zero values are the documented defaults.
type Config struct {
	// Addr is the listen address, e.g. "127.0.0.1:9090"; port 0 picks a
	// free one (see Addr).
	Addr string
	// Registry is what /metrics serves. Default: a new, empty registry.
	Registry *prometheus.Registry
	// CheckTimeout bounds each readiness check. Default 2s.
	CheckTimeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Server is the admin HTTP listener.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	draining atomic.Bool

	mu     sync.Mutex
	checks []check

	srv *http.Server
	ln  net.Listener
}

type check struct {
	name string
	fn   func(context.Context) error
}

// New returns a Server with its endpoints registered; Start listens.
func New(cfg Config) *Server {
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok") // alive: the process answers, draining or not
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	cfg.Registry.MustRegister(readinessCollector{s})
	return s
}

// Registry is the registry /metrics serves.
func (s *Server) Registry() *prometheus.Registry { return s.cfg.Registry }

// Handle adds an endpoint (pattern as for http.ServeMux).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler is the whole admin mux, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.mux }

// AddCheck registers a readiness check: fn returns nil when its subsystem
// can serve. It runs on every /readyz request and every scrape, bounded by
// Config.CheckTimeout, so it must be cheap (a ping, not a query).
func (s *Server) AddCheck(name string, fn func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, check{name, fn})
}

// StartDraining makes /readyz fail from now on: the process is going away.
func (s *Server) StartDraining() { s.draining.Store(true) }

// Draining reports whether StartDraining was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// CheckResult is one readiness check's outcome.
type CheckResult struct {
	Name string
	Err  error
}

// Check runs every check, in parallel, each bounded by CheckTimeout.
func (s *Server) Check(ctx context.Context) []CheckResult {
	s.mu.Lock()
	checks := slices.Clone(s.checks)
	s.mu.Unlock()
	out := make([]CheckResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, s.cfg.CheckTimeout)
			defer cancel()
			out[i] = CheckResult{Name: c.name, Err: c.fn(cctx)}
		}()
	}
	wg.Wait()
	return out
}

// Ready returns nil when the server is not draining and every check
// passes; otherwise an error naming each problem.
func (s *Server) Ready(ctx context.Context) error {
	var errs []error
	if s.Draining() {
		errs = append(errs, errors.New("draining: shutting down"))
	}
	for _, r := range s.Check(ctx) {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, r.Err))
		}
	}
	return errors.Join(errs...)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Ready(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.TrimSpace(err.Error()))
		return
	}
	fmt.Fprintln(w, "ready")
}

// Start listens on Config.Addr and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin listener failed", "err", err)
		}
	}()
	s.log.Info("admin listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the listening address (after Start).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the listener and open requests.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

// readinessCollector exports readiness at scrape time, so an alert needs
// no separate probe: switchboard_ready, switchboard_draining and one
// switchboard_health_check_up per check.
type readinessCollector struct{ s *Server }

var (
	readyDesc    = prometheus.NewDesc("switchboard_ready", "1 when /readyz answers 200: not draining and every health check passes.", nil, nil)
	drainingDesc = prometheus.NewDesc("switchboard_draining", "1 once graceful shutdown has begun.", nil, nil)
	checkDesc    = prometheus.NewDesc("switchboard_health_check_up", "1 when the named readiness check passes.", []string{"check"}, nil)
)

func (c readinessCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- readyDesc
	ch <- drainingDesc
	ch <- checkDesc
}

func (c readinessCollector) Collect(ch chan<- prometheus.Metric) {
	ready := !c.s.Draining()
	for _, r := range c.s.Check(context.Background()) {
		ready = ready && r.Err == nil
		ch <- prometheus.MustNewConstMetric(checkDesc, prometheus.GaugeValue, b2f(r.Err == nil), r.Name)
	}
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, b2f(ready))
	ch <- prometheus.MustNewConstMetric(drainingDesc, prometheus.GaugeValue, b2f(c.s.Draining()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

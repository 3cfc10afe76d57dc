package engine

import (
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"time"

	"github.com/switchboard-chat/switchboard/poller"
)

// Config configures an Engine. The zero value of every field is the default
// written beside it; New validates the whole struct once and names the field
// in any error.
type Config struct {
	// Addr is the public listen address. Default "127.0.0.1:8080".
	Addr string
	// Backend is the poller backend, "epoll" or "netpoll". Default "epoll"
	// (the idle-memory and echo benchmarks favour it; see README).
	Backend string
	// Loops is the number of event loops. Default runtime.NumCPU().
	Loops int
	// Workers is the size of the fixed worker pool. Default 2×GOMAXPROCS.
	Workers int
	// WorkerQueue is each worker's queue capacity, in messages. A full queue
	// pauses reading from the connection whose message did not fit.
	// Default 4096.
	WorkerQueue int

	// MaxConns caps open connections; over it a new client gets HTTP 503
	// with Retry-After. Default 0: no cap.
	MaxConns int
	// RetryAfter is the Retry-After value sent with 503, and with 429 for
	// MaxConnsPerIP. Default 5s.
	RetryAfter time.Duration
	// MaxMemory is the process's memory budget in bytes: the Go runtime's
	// memory (heap, stacks, runtime structures; mapped minus released to
	// the OS), read every tick from runtime/metrics. Kernel socket buffers
	// are not in it. At 90% of it new clients get HTTP 503 with
	// Retry-After; connections already open keep working. Default 0: no
	// budget.
	MaxMemory int64
	// MaxConnsPerIP caps the sockets, handshaking or open, from one client
	// address (IPv6: one /64); over it a new client gets HTTP 429 with
	// Retry-After. Default 0: no cap.
	MaxConnsPerIP int
	// HandshakeRatePerIP is the new connections per second one client
	// address (IPv6: one /64) may open, with HandshakeBurstPerIP in reserve
	// (default ten seconds' worth); over it HTTP 429 with Retry-After (the
	// seconds until the next one is allowed). Default 0: no limit.
	HandshakeRatePerIP  float64
	HandshakeBurstPerIP int
	// IPLimitExempt lists client prefixes the per-IP limits skip: a reverse
	// proxy in front makes every client share its address. Default none.
	IPLimitExempt []netip.Prefix

	// HandshakeTimeout bounds the time from accept to a complete upgrade
	// request (slowloris defence). Default 10s.
	HandshakeTimeout time.Duration
	// PingInterval is how long a connection may be silent before the server
	// pings it. Default 30s.
	PingInterval time.Duration
	// PongTimeout is how long after a ping a silent peer is declared dead
	// and dropped. Default 15s.
	PongTimeout time.Duration
	// IdleTimeout closes a connection (code 4002) that sent no data message
	// for this long even though it answers pings. Default 0: never.
	IdleTimeout time.Duration
	// ReconnectWindow spreads reconnects after a shutdown: each client is
	// told (close reason, and Drainer for the app's own frame) to come back
	// after a delay drawn uniformly from [0, ReconnectWindow), so a restart
	// does not bring every client back in the same instant. Default 5s.
	ReconnectWindow time.Duration
	// CloseTimeout bounds how long the server waits for the peer's close
	// frame after sending its own. Default 3s.
	CloseTimeout time.Duration
	// TickInterval is the timing wheels' resolution. Default 100ms.
	TickInterval time.Duration

	// MaxHeaderBytes bounds the upgrade request. Default 8192 (431 over).
	MaxHeaderBytes int
	// MaxFrameBytes and MaxMessageBytes bound inbound frames and messages
	// (close 1009 over). Defaults 1 MiB each.
	MaxFrameBytes   int64
	MaxMessageBytes int64
	// OutboundBudget is the bytes that may wait in one connection's outbound
	// queue; a connection over it is a slow consumer and is closed with 4001.
	// Default 4 MiB.
	OutboundBudget int
	// Compression enables permessage-deflate negotiation. Default off.
	Compression bool
	// Subprotocols the server accepts, in preference order. Default none.
	Subprotocols []string
	// CheckOrigin vets the Origin header of upgrade requests (403 when it
	// returns false). Default nil: any origin.
	CheckOrigin func(origin []byte) bool

	// Logger receives the engine's logs. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.Backend == "" {
		c.Backend = "epoll"
	}
	if c.Loops == 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.Workers == 0 {
		c.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if c.WorkerQueue == 0 {
		c.WorkerQueue = 4096
	}
	def(&c.RetryAfter, 5*time.Second)
	if c.HandshakeRatePerIP > 0 && c.HandshakeBurstPerIP == 0 {
		c.HandshakeBurstPerIP = max(1, int(10*c.HandshakeRatePerIP))
	}
	def(&c.HandshakeTimeout, 10*time.Second)
	def(&c.PingInterval, 30*time.Second)
	def(&c.PongTimeout, 15*time.Second)
	def(&c.CloseTimeout, 3*time.Second)
	def(&c.ReconnectWindow, 5*time.Second)
	def(&c.TickInterval, 100*time.Millisecond)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 8192
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = 1 << 20
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.OutboundBudget == 0 {
		c.OutboundBudget = 4 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	backendOK := false
	for _, b := range poller.Backends {
		backendOK = backendOK || b == c.Backend
	}
	if !backendOK {
		return fmt.Errorf("engine: Config.Backend %q is not one of %v", c.Backend, poller.Backends)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Loops", int64(c.Loops)}, {"Workers", int64(c.Workers)}, {"WorkerQueue", int64(c.WorkerQueue)},
		{"MaxConns", int64(c.MaxConns)}, {"RetryAfter", int64(c.RetryAfter)},
		{"MaxMemory", c.MaxMemory}, {"MaxConnsPerIP", int64(c.MaxConnsPerIP)},
		{"HandshakeBurstPerIP", int64(c.HandshakeBurstPerIP)},
		{"HandshakeTimeout", int64(c.HandshakeTimeout)}, {"PingInterval", int64(c.PingInterval)},
		{"PongTimeout", int64(c.PongTimeout)}, {"IdleTimeout", int64(c.IdleTimeout)},
		{"CloseTimeout", int64(c.CloseTimeout)}, {"TickInterval", int64(c.TickInterval)},
		{"ReconnectWindow", int64(c.ReconnectWindow)},
		{"MaxHeaderBytes", int64(c.MaxHeaderBytes)}, {"MaxFrameBytes", c.MaxFrameBytes},
		{"MaxMessageBytes", c.MaxMessageBytes}, {"OutboundBudget", int64(c.OutboundBudget)},
	} {
		if f.v < 0 {
			return fmt.Errorf("engine: Config.%s must not be negative, got %d", f.name, f.v)
		}
	}
	if c.HandshakeRatePerIP < 0 {
		return fmt.Errorf("engine: Config.HandshakeRatePerIP must not be negative, got %v", c.HandshakeRatePerIP)
	}
	for _, p := range c.IPLimitExempt {
		if !p.IsValid() {
			return fmt.Errorf("engine: Config.IPLimitExempt holds an invalid prefix %v", p)
		}
	}
	if c.MaxHeaderBytes < 256 {
		return fmt.Errorf("engine: Config.MaxHeaderBytes must be at least 256, got %d", c.MaxHeaderBytes)
	}
	if c.MaxFrameBytes > c.MaxMessageBytes {
		return fmt.Errorf("engine: Config.MaxFrameBytes (%d) must not exceed MaxMessageBytes (%d)",
			c.MaxFrameBytes, c.MaxMessageBytes)
	}
	if c.TickInterval > c.HandshakeTimeout || c.TickInterval > c.PongTimeout {
		return fmt.Errorf("engine: Config.TickInterval (%v) must not exceed HandshakeTimeout or PongTimeout", c.TickInterval)
	}
	return nil
}

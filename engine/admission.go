package engine

import (
	"hash/maphash"
	"net/netip"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-chat/switchboard/protocol"
)

// Admission control decides, when a socket is accepted, whether its
// upgrade will be refused; the answer goes out once the request is in
// (answering earlier would reset a client still sending and lose the
// answer). Refusals, in the order they are checked:
//
//   - 503 + Retry-After: draining, Config.MaxConns reached, or the process
//     at memoryAdmitPercent of Config.MaxMemory. The server is full; any
//     client would be refused.
//   - 429 + Retry-After: this client address is over Config.MaxConnsPerIP
//     or Config.HandshakeRatePerIP. Only this address is refused.

// rejection is why a connection's upgrade will be refused.
type rejection uint8

const (
	admitted      rejection = iota
	rejectBusy              // 503: draining, MaxConns, MaxMemory
	rejectMemory            // 503: MaxMemory (counted apart)
	rejectIPConns           // 429: MaxConnsPerIP
	rejectIPRate            // 429: HandshakeRatePerIP
)

// memoryAdmitPercent is the share of Config.MaxMemory at which admission
// stops: the rest is for the connections already in (their queues and the
// messages being handled) and for growth between two readings.
const memoryAdmitPercent = 90

// ipSweepTicks is how often (in ticks, 10 s at the default tick) the
// per-IP table drops addresses it no longer needs.
const ipSweepTicks = 100

// ipShards spreads the per-address table's lock across event loops.
const ipShards = 64

// admission holds the state the per-accept checks read. Lock order: an
// ipShard's mu is a leaf.
type admission struct {
	memInUse atomic.Int64 // last reading, bytes; written by the clock
	memFull  atomic.Bool  // memInUse is at the admission limit
	samples  [2]metrics.Sample

	seed   maphash.Seed
	shards [ipShards]ipShard
}

type ipShard struct {
	mu    sync.Mutex
	addrs map[netip.Addr]*ipEntry
}

// ipEntry is one client address: its open sockets and its handshake token
// bucket. It lives while the address has a socket or its bucket is not full.
type ipEntry struct {
	conns  int
	tokens float64
	last   int64 // engine tick of the last refill
}

func (a *admission) init() {
	a.seed = maphash.MakeSeed()
	a.samples[0].Name = "/memory/classes/total:bytes"
	a.samples[1].Name = "/memory/classes/heap/released:bytes"
}

// perIP reports whether per-address limits apply to addr.
func (e *Engine) perIP(addr netip.Addr) bool {
	if e.cfg.MaxConnsPerIP == 0 && e.cfg.HandshakeRatePerIP == 0 {
		return false
	}
	for _, p := range e.cfg.IPLimitExempt {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// ipKey is the address the limits count: IPv4 as is, IPv6 by its /64,
// since one host is routinely given a whole /64.
func ipKey(addr netip.Addr) netip.Addr {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.Addr()
	}
	return addr
}

func (a *admission) shard(key netip.Addr) *ipShard {
	b := key.As16()
	return &a.shards[maphash.Bytes(a.seed, b[:])%ipShards]
}

// admit runs once per accepted socket, on its event loop. It counts the
// socket against its address (released by releaseIP) and returns whether
// and why the upgrade will be refused, with the Retry-After seconds.
func (e *Engine) admit(remote netip.AddrPort) (rejection, int) {
	addr := remote.Addr().Unmap()
	var why rejection
	switch {
	case e.draining.Load(), e.cfg.MaxConns > 0 && e.stats.conns.Load() >= int64(e.cfg.MaxConns):
		why = rejectBusy
	case e.adm.memFull.Load():
		why = rejectMemory
	}
	if !e.perIP(addr) {
		return why, e.retrySeconds()
	}
	key := ipKey(addr)
	sh := e.adm.shard(key)
	now := e.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.addrs == nil {
		sh.addrs = map[netip.Addr]*ipEntry{}
	}
	ent := sh.addrs[key]
	if ent == nil {
		ent = &ipEntry{tokens: float64(e.cfg.HandshakeBurstPerIP), last: now}
		sh.addrs[key] = ent
	}
	ent.conns++
	if why != admitted {
		return why, e.retrySeconds()
	}
	if e.cfg.MaxConnsPerIP > 0 && ent.conns > e.cfg.MaxConnsPerIP {
		return rejectIPConns, e.retrySeconds()
	}
	if e.cfg.HandshakeRatePerIP > 0 {
		e.refill(ent, now)
		if ent.tokens < 1 {
			// Seconds until the next token, rounded up.
			wait := (1 - ent.tokens) / e.cfg.HandshakeRatePerIP
			return rejectIPRate, max(1, int(wait+0.999))
		}
		ent.tokens--
	}
	return admitted, 0
}

func (e *Engine) refill(ent *ipEntry, now int64) {
	if now <= ent.last {
		return
	}
	secs := float64(now-ent.last) * e.cfg.TickInterval.Seconds()
	ent.tokens = min(float64(e.cfg.HandshakeBurstPerIP), ent.tokens+secs*e.cfg.HandshakeRatePerIP)
	ent.last = now
}

// releaseIP uncounts a closed socket from its address.
func (e *Engine) releaseIP(remote netip.AddrPort) {
	addr := remote.Addr().Unmap()
	if !e.perIP(addr) {
		return
	}
	key := ipKey(addr)
	sh := e.adm.shard(key)
	sh.mu.Lock()
	if ent := sh.addrs[key]; ent != nil {
		ent.conns--
		if ent.conns <= 0 && (e.cfg.HandshakeRatePerIP == 0 || ent.tokens >= float64(e.cfg.HandshakeBurstPerIP)) {
			delete(sh.addrs, key)
		}
	}
	sh.mu.Unlock()
}

// sweepIPs forgets addresses with no socket whose bucket has refilled, so
// the table holds only addresses seen recently. It runs on the clock.
func (e *Engine) sweepIPs(now int64) {
	for i := range e.adm.shards {
		sh := &e.adm.shards[i]
		sh.mu.Lock()
		for key, ent := range sh.addrs {
			e.refill(ent, now)
			if ent.conns <= 0 && ent.tokens >= float64(e.cfg.HandshakeBurstPerIP) {
				delete(sh.addrs, key)
			}
		}
		sh.mu.Unlock()
	}
}

// trackedIPs is the number of addresses in the per-IP table.
func (e *Engine) trackedIPs() int {
	n := 0
	for i := range e.adm.shards {
		sh := &e.adm.shards[i]
		sh.mu.Lock()
		n += len(sh.addrs)
		sh.mu.Unlock()
	}
	return n
}

// sampleMemory reads the runtime's memory in use (mapped minus released to
// the OS: what the Go side holds resident, give or take untouched pages)
// and sets the admission flag. It runs on the clock goroutine every tick:
// runtime/metrics reads these without stopping the world, in ~300 ns.
func (e *Engine) sampleMemory() {
	s := e.adm.samples[:]
	metrics.Read(s)
	inUse := int64(s[0].Value.Uint64() - s[1].Value.Uint64())
	e.adm.memInUse.Store(inUse)
	if e.cfg.MaxMemory == 0 {
		return
	}
	full := inUse >= e.cfg.MaxMemory/100*memoryAdmitPercent
	if was := e.adm.memFull.Swap(full); was != full {
		if full {
			e.log.Warn("memory budget reached: refusing new connections", "in_use", inUse, "max", e.cfg.MaxMemory)
		} else {
			e.log.Info("memory below budget: admitting again", "in_use", inUse, "max", e.cfg.MaxMemory)
		}
	}
}

// refuse answers a connection admission turned away, once its request is in.
func (e *Engine) refuse(c *Conn) {
	status, body := 503, "server at capacity; retry later\n"
	switch c.hs.reject {
	case rejectMemory:
		e.stats.rejectedMemory.Add(1)
	case rejectIPConns:
		status, body = 429, "too many connections from your address; retry later\n"
	case rejectIPRate:
		status, body = 429, "too many new connections from your address; retry later\n"
	}
	if status == 429 {
		e.stats.rejected429.Add(1)
	} else {
		e.stats.rejected503.Add(1)
	}
	retry := "Retry-After: " + strconv.Itoa(c.hs.retryAfter)
	e.reply(c, protocol.AppendHTTPResponse(nil, status, "text/plain; charset=utf-8", retry, []byte(body)))
}

// retrySeconds is Config.RetryAfter in whole seconds, rounded up.
func (e *Engine) retrySeconds() int {
	return int((e.cfg.RetryAfter + time.Second - 1) / time.Second)
}

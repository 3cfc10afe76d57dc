package web

import (
	"bytes"
	"encoding/json"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/room"
)

// Dashboard windows: the charts show historyLen samples; the latency
// quantiles cover the last latencyWindow samples, so one slow second shows
// for a while instead of flickering.
const (
	historyLen    = 60
	latencyWindow = 10
)

// Stats is the JSON document at /dashboard/stats. Rates are per second over
// the last sample interval; ack latencies are over the last
// LatencyWindowS seconds. Exported for its documentation and for tests.
type Stats struct {
	Time      int64   `json:"time_ms"` // Unix milliseconds of the sample
	UptimeS   float64 `json:"uptime_s"`
	IntervalS float64 `json:"interval_s"`

	Connections int64 `json:"connections"` // open WebSocket connections
	Handshaking int64 `json:"handshaking"`
	Goroutines  int64 `json:"goroutines"`

	MessagesInPerS float64 `json:"messages_in_per_s"` // WebSocket messages received, any route
	PublishedPerS  float64 `json:"published_per_s"`   // chat messages stored and acked
	DeliveriesPerS float64 `json:"deliveries_per_s"`  // chat frames handed to members by fan-out (messages, presence, typing, reads)
	BytesInPerS    float64 `json:"bytes_in_per_s"`
	BytesOutPerS   float64 `json:"bytes_out_per_s"`
	AckP50Ms       float64 `json:"ack_p50_ms"` // publish→ack, see room.Stats
	AckP99Ms       float64 `json:"ack_p99_ms"`
	AcksInWindow   uint64  `json:"acks_in_window"`
	LatencyWindowS float64 `json:"latency_window_s"`
	RSSBytes       uint64  `json:"rss_bytes"`           // resident set of the whole process
	GoHeapBytes    uint64  `json:"go_heap_bytes"`       // live and not yet swept heap objects
	HeapPerConn    *uint64 `json:"heap_per_conn_bytes"` // GoHeapBytes ÷ Connections; null without connections
	Chat           bool    `json:"chat"`                // the chat counters are available

	Totals  Totals  `json:"totals"`
	History History `json:"history"`
}

// Totals are counters since the process started.
type Totals struct {
	Accepted          uint64 `json:"accepted"`
	Upgraded          uint64 `json:"upgraded"`
	MessagesIn        uint64 `json:"messages_in"`
	Published         uint64 `json:"published"`
	Deliveries        uint64 `json:"deliveries"`
	DeliveryDrops     uint64 `json:"delivery_drops"`
	SlowConsumers     uint64 `json:"slow_consumers"`
	Rejected503       uint64 `json:"rejected_503"`
	HandshakeFailures uint64 `json:"handshake_failures"`
	ProtocolErrors    uint64 `json:"protocol_errors"`
}

// History holds the last samples of the charted series, oldest first.
type History struct {
	Connections    []int64   `json:"connections"`
	MessagesInPerS []float64 `json:"messages_in_per_s"`
	DeliveriesPerS []float64 `json:"deliveries_per_s"`
	AckP99Ms       []float64 `json:"ack_p99_ms"`
	HeapPerConn    []uint64  `json:"heap_per_conn_bytes"` // 0 where there were no connections
}

// sample is what one tick read from the sources.
type sample struct {
	at   time.Time
	eng  engine.Stats
	chat room.Stats
}

// sampler reads the engine's and the chat layer's counters every interval
// and publishes the encoded Stats for the event loops to serve.
type sampler struct {
	engineStats func() engine.Stats
	chat        func() room.Stats
	interval    time.Duration
	start       time.Time
	memory      []metrics.Sample

	// Owned by the sampling goroutine (and by tests calling tick).
	recent []sample // the last latencyWindow samples, oldest first
	hist   History

	latest    atomic.Pointer[[]byte]
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newSampler(engineStats func() engine.Stats, chat func() room.Stats, interval time.Duration) *sampler {
	s := &sampler{engineStats: engineStats, chat: chat, interval: interval, start: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{}),
		memory: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/sched/goroutines:goroutines"}}}
	return s
}

func (s *sampler) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.tick(now)
		}
	}
}

func (s *sampler) close() {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
}

// serve is the /dashboard/stats handler: it runs on an event loop and only
// loads the latest snapshot.
func (s *sampler) serve(*protocol.Request) engine.HTTPResponse {
	return engine.HTTPResponse{ContentType: "application/json", CacheControl: "no-store", Body: *s.latest.Load()}
}

// tick takes one sample, derives rates and quantiles from the earlier ones,
// and publishes the encoded result.
func (s *sampler) tick(now time.Time) {
	cur := sample{at: now, eng: s.engineStats()}
	if s.chat != nil {
		cur.chat = s.chat()
	}
	metrics.Read(s.memory)
	st := Stats{Time: now.UnixMilli(), UptimeS: now.Sub(s.start).Seconds(), IntervalS: s.interval.Seconds(),
		Connections: cur.eng.Conns, Handshaking: cur.eng.Handshaking, Chat: s.chat != nil,
		RSSBytes: residentBytes(), GoHeapBytes: s.memory[0].Value.Uint64(), Goroutines: int64(s.memory[1].Value.Uint64()),
		Totals: Totals{Accepted: cur.eng.Accepted, Upgraded: cur.eng.Upgraded, MessagesIn: cur.eng.MessagesIn,
			Published: cur.chat.Published, Deliveries: cur.chat.Deliveries, DeliveryDrops: cur.chat.DeliveryDrops,
			SlowConsumers: cur.eng.SlowConsumers,
			Rejected503:   cur.eng.Rejected503, HandshakeFailures: cur.eng.HandshakeFailures,
			ProtocolErrors: cur.eng.ProtocolErrors}}
	if cur.eng.Conns > 0 {
		per := st.GoHeapBytes / uint64(cur.eng.Conns)
		st.HeapPerConn = &per
	}
	if n := len(s.recent); n > 0 {
		prev := s.recent[n-1]
		if dt := now.Sub(prev.at).Seconds(); dt > 0 {
			rate := func(a, b uint64) float64 { return float64(a-b) / dt }
			st.MessagesInPerS = rate(cur.eng.MessagesIn, prev.eng.MessagesIn)
			st.BytesInPerS = rate(cur.eng.BytesIn, prev.eng.BytesIn)
			st.BytesOutPerS = rate(cur.eng.BytesOut, prev.eng.BytesOut)
			st.PublishedPerS = rate(cur.chat.Published, prev.chat.Published)
			st.DeliveriesPerS = rate(cur.chat.Deliveries, prev.chat.Deliveries)
		}
		oldest := s.recent[0]
		window := cur.chat.AckLatency.Sub(oldest.chat.AckLatency)
		st.LatencyWindowS = now.Sub(oldest.at).Seconds()
		st.AcksInWindow = window.Count
		st.AckP50Ms = window.Quantile(0.50) * 1000 // seconds to ms
		st.AckP99Ms = window.Quantile(0.99) * 1000
	}
	s.recent = append(s.recent, cur)
	if len(s.recent) > latencyWindow {
		s.recent = append(s.recent[:0], s.recent[1:]...)
	}
	h := &s.hist
	h.Connections = push(h.Connections, st.Connections)
	h.MessagesInPerS = push(h.MessagesInPerS, st.MessagesInPerS)
	h.DeliveriesPerS = push(h.DeliveriesPerS, st.DeliveriesPerS)
	h.AckP99Ms = push(h.AckP99Ms, st.AckP99Ms)
	var per uint64
	if st.HeapPerConn != nil {
		per = *st.HeapPerConn
	}
	h.HeapPerConn = push(h.HeapPerConn, per)
	st.History = *h
	body, err := json.Marshal(&st)
	if err != nil {
		panic("web: dashboard stats do not encode: " + err.Error()) // plain numbers and slices: a bug
	}
	s.latest.Store(&body)
}

// push appends v and keeps the last historyLen values.
func push[T any](list []T, v T) []T {
	list = append(list, v)
	if len(list) > historyLen {
		list = list[len(list)-historyLen:]
	}
	return list
}

// residentBytes reads the process's resident set from /proc/self/statm;
// 0 where it cannot.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := bytes.Fields(b)
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

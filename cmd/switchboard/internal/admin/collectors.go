package admin

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/room"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	connsDesc      = desc("switchboard_connections", "Connections by state: handshaking (accepted, upgrade not complete) or open (upgraded).", "state")
	maxConnsDesc   = desc("switchboard_connections_max", "The --max-conns cap on open connections; 0 when there is none.")
	acceptedDesc   = desc("switchboard_connections_accepted_total", "TCP connections accepted on the public listener.")
	upgradesDesc   = desc("switchboard_upgrades_total", "Successful WebSocket upgrades.")
	hsFailDesc     = desc("switchboard_handshake_failures_total", "Connections that never upgraded, by reason: the HTTP status answered (bad_request, unauthorized, forbidden, not_found, method_not_allowed, upgrade_required, header_too_large, http_version, other), over_capacity (503), over_memory (503 at --max-memory), per_ip_limit (429) or timeout.", "reason")
	memoryDesc     = desc("switchboard_memory_in_use_bytes", "Go runtime memory (mapped minus released) as last read for --max-memory admission, every engine tick.")
	closesDesc     = desc("switchboard_connection_closes_total", "Connections the server closed, by reason: slow_consumer (4001), dead_peer (no pong), idle_timeout (4002), token_expired (4003), protocol_error (1002/1007/1009), app_panic (1011).", "reason")
	msgsInDesc     = desc("switchboard_messages_received_total", "Complete WebSocket data messages received from clients.")
	msgsOutDesc    = desc("switchboard_messages_sent_total", "WebSocket data messages handed to client connections (written or queued).")
	bytesInDesc    = desc("switchboard_received_bytes_total", "Bytes read from client sockets, handshakes included.")
	bytesOutDesc   = desc("switchboard_sent_bytes_total", "Bytes written to client sockets.")
	backpressDesc  = desc("switchboard_backpressure_pauses_total", "Times a full worker queue paused reading from a connection.")
	workersDesc    = desc("switchboard_workers", "Size of the worker pool.")
	queueDesc      = desc("switchboard_worker_queue_depth", "Tasks waiting for each worker, parked messages included.", "worker")
	busyDesc       = desc("switchboard_worker_busy_seconds_total", "Time each worker spent not waiting for work; its rate is the worker's utilisation (0 to 1).", "worker")
	publishedDesc  = desc("switchboard_messages_published_total", "Chat messages stored and handed to fan-out (retries of an acked id not counted).")
	deliveriesDesc = desc("switchboard_fanout_deliveries_total", "Frames fan-out handed to room members' connections: messages and presence, typing, read, role and kicked events.")
	dropsDesc      = desc("switchboard_fanout_dropped_total", "Fan-out frames a member's connection refused because it was already closing.")
	ackDesc        = desc("switchboard_publish_ack_seconds", "Time from a publish frame's handler starting to its ack being written (the store append, mostly).")

	busRelayedDesc  = desc("switchboard_cluster_relayed_total", "Payloads handed to the Redis bus for the other instances: stored messages and events. Zero on a single instance.")
	busReceivedDesc = desc("switchboard_cluster_received_total", "Payloads the Redis bus delivered from other instances.")
	busGapsDesc     = desc("switchboard_cluster_gaps_total", "Refills started because a room's delivery waited 200 ms (GapTimeout) for a missing seq (a publication the bus lost).")
	busResyncsDesc  = desc("switchboard_cluster_resyncs_total", "Refills asked for by the bus, by cause: room (another instance's relay to it failed) or reconnect (the bus reconnected; every live room is refilled).", "cause")
	refillsDesc     = desc("switchboard_cluster_refills_total", "Room refills from the store, by result: ok or failed (retried).", "result")
	refilledDesc    = desc("switchboard_cluster_refilled_messages_total", "Messages refills read from the store and handed to fan-out because live delivery had not.")
)

// hsReasons names the engine's failed-handshake statuses.
var hsReasons = map[int]string{400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
	405: "method_not_allowed", 426: "upgrade_required", 431: "header_too_large", 505: "http_version", 0: "other"}

// EngineCollector exports an engine's counters when Prometheus scrapes.
type EngineCollector struct {
	e        *engine.Engine
	maxConns int
}

// NewEngineCollector exports e's Stats and WorkerStats; maxConns is its
// configured cap (0: none), exported for "near the cap" alerts.
func NewEngineCollector(e *engine.Engine, maxConns int) *EngineCollector {
	return &EngineCollector{e: e, maxConns: maxConns}
}

// Describe implements prometheus.Collector.
func (c *EngineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connsDesc, maxConnsDesc, acceptedDesc, upgradesDesc, hsFailDesc, closesDesc,
		msgsInDesc, msgsOutDesc, bytesInDesc, bytesOutDesc, backpressDesc, workersDesc, queueDesc, busyDesc, memoryDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *EngineCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.e.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(connsDesc, float64(st.Handshaking), "handshaking")
	gauge(connsDesc, float64(st.Conns), "open")
	gauge(maxConnsDesc, float64(c.maxConns))
	counter(acceptedDesc, st.Accepted)
	counter(upgradesDesc, st.Upgraded)
	for status, reason := range hsReasons {
		counter(hsFailDesc, st.HandshakeFailuresByStatus[status], reason) // zero until it happens
	}
	counter(hsFailDesc, st.HandshakeTimeouts, "timeout")
	counter(hsFailDesc, st.Rejected503-st.RejectedMemory, "over_capacity")
	counter(hsFailDesc, st.RejectedMemory, "over_memory")
	counter(hsFailDesc, st.Rejected429, "per_ip_limit")
	gauge(memoryDesc, float64(st.MemoryInUse))
	counter(closesDesc, st.SlowConsumers, "slow_consumer")
	counter(closesDesc, st.DeadPeers, "dead_peer")
	counter(closesDesc, st.IdleTimeouts, "idle_timeout")
	counter(closesDesc, st.TokenExpiries, "token_expired")
	counter(closesDesc, st.ProtocolErrors, "protocol_error")
	counter(closesDesc, st.AppPanics, "app_panic")
	counter(msgsInDesc, st.MessagesIn)
	counter(msgsOutDesc, st.MessagesOut)
	counter(bytesInDesc, st.BytesIn)
	counter(bytesOutDesc, st.BytesOut)
	counter(backpressDesc, st.BackpressureHits)
	workers := c.e.WorkerStats(nil)
	gauge(workersDesc, float64(len(workers)))
	for i, w := range workers {
		id := strconv.Itoa(i)
		gauge(queueDesc, float64(w.Queued), id)
		ch <- prometheus.MustNewConstMetric(busyDesc, prometheus.CounterValue, w.Busy.Seconds(), id)
	}
}

// RoomCollector exports the chat layer's counters when Prometheus scrapes.
type RoomCollector struct{ s *room.Service }

// NewRoomCollector exports s.Stats.
func NewRoomCollector(s *room.Service) *RoomCollector { return &RoomCollector{s} }

// Describe implements prometheus.Collector.
func (c *RoomCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{publishedDesc, deliveriesDesc, dropsDesc, ackDesc,
		busRelayedDesc, busReceivedDesc, busGapsDesc, busResyncsDesc, refillsDesc, refilledDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *RoomCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(publishedDesc, prometheus.CounterValue, float64(st.Published))
	ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.CounterValue, float64(st.Deliveries))
	ch <- prometheus.MustNewConstMetric(dropsDesc, prometheus.CounterValue, float64(st.DeliveryDrops))
	h := st.AckLatency
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b] = h.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(ackDesc, h.Count, h.Sum, buckets)
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	cl := st.Cluster
	counter(busRelayedDesc, cl.Relayed)
	counter(busReceivedDesc, cl.Received)
	counter(busGapsDesc, cl.Gaps)
	counter(busResyncsDesc, cl.Resyncs, "room")
	counter(busResyncsDesc, cl.Reconnects, "reconnect")
	counter(refillsDesc, cl.Refills-cl.RefillFailures, "ok")
	counter(refillsDesc, cl.RefillFailures, "failed")
	counter(refilledDesc, cl.Refilled)
}

// BuildInfo is switchboard_build_info{version, revision, goversion} = 1.
func BuildInfo(version, revision, goVersion string) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "switchboard_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion},
	}, func() float64 { return 1 })
}

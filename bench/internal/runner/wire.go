package runner

// The controller/worker protocol of the measured scenarios: one JSON object
// per line, commands on the worker's stdin, reports on its stdout. A
// worker is started with its whole share of the load in its flags, sets
// it up (dials, joins) and reports "ready". The controller then sends "go"
// with a wall-clock start common to every worker; the worker runs the
// window (and whatever drain follows it), reports "finished" and keeps its
// connections open, so that the controller can sample the server with
// every connection still there, until "quit" or EOF on stdin; then it
// closes everything and reports "bye".

// Command ops.
const (
	OpGo   = "go"
	OpQuit = "quit"
)

// Report events.
const (
	EvReady    = "ready"
	EvFinished = "finished"
	EvBye      = "bye"
)

// Command is what the controller writes to a worker.
type Command struct {
	Op string `json:"op"`
	// StartUnixNano is the wall-clock start of the run, shared by every
	// worker so that their windows line up with the controller's CPU
	// window and with each other's clocks.
	StartUnixNano int64 `json:"start_unix_nano,omitempty"`
}

// Header opens every report a worker writes; a scenario's report embeds
// it. Worker.Serve fills it in.
type Header struct {
	Event string `json:"event"`
	Pid   int    `json:"pid,omitempty"`
	Src   string `json:"src,omitempty"`
	// LateStartNS is how late the worker saw the start time ("finished").
	LateStartNS int64 `json:"late_start_ns,omitempty"`
}

// Head is h; through embedding, a report's header.
func (h *Header) Head() *Header { return h }

// Reporter is a pointer to a scenario's report, which embeds Header.
type Reporter interface{ Head() *Header }

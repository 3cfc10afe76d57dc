// Package runner is what every load scenario of swload shares, so that a
// scenario package keeps only its load, its measurements and its reports.
//
// The controller side (`swload <scenario>`):
//
//   - Flags, Timing, Dialing: the command-line flags every scenario takes
//     (the server, the report, the worker processes, the repetitions),
//     checked once by Parse.
//   - Scenario.Run: signals, the output files, the repetition loop
//     (Repeat), each repetition against a fresh server, the summary and the
//     <out>.json and <out>.md reports (Conclude). Result is the schema of
//     <out>.json: name, meta, load, repetitions, summary, failure; Usage
//     and Noise are the parts of a repetition and of a summary that say
//     what the server and the machine used.
//   - Session: one repetition's processes, a server started by StartServer
//     and the worker processes, one per source address (127.0.0.2,
//     ...); it starts them, waits for their "ready", sends every worker the
//     same start instant, measures the CPU window (MeasureWindow) and
//     collects their "finished" reports. Close stops the server first,
//     then the workers. The idle scenario, which keeps one server for
//     every step, uses a Session directly.
//
// The worker side (`swload <scenario>-worker`): Worker.Serve speaks the
// protocol of wire.go over stdin and stdout (one JSON object per line) and
// leaves the load itself to the scenario's Setup, Run and Close.
//
// Concurrency: a Scenario's run and its Sessions belong to the controller's
// one goroutine; workerproc reads each worker's reports on a goroutine of
// its own and hands them over a channel. Worker.Serve runs on the worker's
// main goroutine and calls Setup, Run and Close from it. Nothing here is
// safe for concurrent use.
package runner

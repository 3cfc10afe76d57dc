package admin

import (
	"encoding/json"
	"net/http"
	"runtime"
	"runtime/debug"

	"github.com/switchboard-chat/switchboard/engine"
)

// DebugStats answers GET /debug/stats: engine counters and Go memory
// figures as one JSON object. The benchmarks read it (bench/internal/target).
func DebugStats(e *engine.Engine) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
}

// DebugGC answers POST /debug/gc: a full GC and FreeOSMemory, so a memory
// sample that follows measures live data (the idle benchmark uses it).
func DebugGC() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
}

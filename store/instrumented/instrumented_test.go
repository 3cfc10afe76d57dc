package instrumented

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/memory"
	"github.com/switchboard-chat/switchboard/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func wrapped(t *testing.T) (*Store, *prometheus.Registry) {
	t.Helper()
	m, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s, err := New(m, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, reg
}

// The wrapper must not change what the store does.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { s, _ := wrapped(t); return s })
}

// family returns the metric family called name from reg.
func family(t *testing.T, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestCallsAndErrorsRecorded(t *testing.T) {
	s, reg := wrapped(t)
	ctx := context.Background()
	if _, err := s.CreateRoom(ctx, store.Room{ID: "r", CreatedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Append(ctx, store.Message{Room: "r", ID: "1", From: "alice", Body: []byte(`"hi"`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRoom(ctx, "nope"); err == nil {
		t.Fatal("GetRoom of a missing room succeeded")
	}
	s.Close() // a real outage: every later call fails with ErrUnavailable
	if err := s.Health(ctx); err == nil {
		t.Fatal("Health after Close succeeded")
	}

	counts := map[string]uint64{}
	for _, m := range family(t, reg, "switchboard_store_duration_seconds").GetMetric() {
		counts[labels(m)["op"]] = m.GetHistogram().GetSampleCount()
	}
	if len(counts) != int(numOps) {
		t.Errorf("%d ops in the histogram, want all %d from the start", len(counts), numOps)
	}
	for op, want := range map[string]uint64{"create_room": 1, "append": 1, "get_room": 1, "health": 1, "since": 0} {
		if counts[op] != want {
			t.Errorf("op %s: %d observations, want %d", op, counts[op], want)
		}
	}
	errs := map[[2]string]float64{}
	for _, m := range family(t, reg, "switchboard_store_errors_total").GetMetric() {
		l := labels(m)
		errs[[2]string{l["op"], l["kind"]}] = m.GetCounter().GetValue()
	}
	want := map[[2]string]float64{{"get_room", "not_found"}: 1, {"health", "unavailable"}: 1}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("errors = %v, want %v", errs, want)
	}
}

func TestKind(t *testing.T) {
	for err, want := range map[error]string{
		store.ErrNotFound: "not_found", store.ErrExists: "exists", store.ErrInvalid: "invalid",
		store.ErrUnavailable: "unavailable", context.DeadlineExceeded: "timeout", context.Canceled: "canceled",
		&store.TrimmedError{Room: "r"}: "trimmed", errors.New("boom"): "other",
	} {
		if got := Kind(err); got != want {
			t.Errorf("Kind(%v) = %s, want %s", err, got, want)
		}
	}
}

// TestEveryMethodMeasured fails when store.Store gains a method this
// package only passes through (embedded) instead of measuring.
func TestEveryMethodMeasured(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "instrumented.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil {
			declared[fn.Name.Name] = true
		}
	}
	for _, iface := range []reflect.Type{reflect.TypeFor[store.Store](), reflect.TypeFor[store.AsyncAppender]()} {
		for i := range iface.NumMethod() {
			name := iface.Method(i).Name
			if name != "Close" && !declared[name] {
				t.Errorf("store.%s.%s is not measured: add it to instrumented.go", iface.Name(), name)
			}
		}
	}
}

// AppendAsync is measured and calls done once, both when the wrapped
// store has AppendAsync (memory) and when it has not (the fallback).
func TestAppendAsync(t *testing.T) {
	for _, hide := range []bool{false, true} {
		m, err := memory.New(memory.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var next store.Store = m
		if hide {
			next = struct{ store.Store }{m} // only store.Store's methods: no AppendAsync
		}
		reg := prometheus.NewRegistry()
		s, err := New(next, reg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := s.CreateRoom(ctx, store.Room{ID: "r", CreatedBy: "alice"}); err != nil {
			t.Fatal(err)
		}
		var got []store.AppendResult
		s.AppendAsync(ctx, store.Message{Room: "r", ID: "1", From: "alice", Body: []byte(`1`)},
			func(r store.AppendResult) { got = append(got, r) })
		s.AppendAsync(ctx, store.Message{Room: "nope", ID: "1", From: "alice", Body: []byte(`1`)},
			func(r store.AppendResult) { got = append(got, r) })
		if len(got) != 2 || got[0].Err != nil || got[0].Message.Seq != 1 || !errors.Is(got[1].Err, store.ErrNotFound) {
			t.Fatalf("hide=%v: results %+v, want seq 1 then not found", hide, got)
		}
		var n uint64
		for _, mt := range family(t, reg, "switchboard_store_duration_seconds").GetMetric() {
			if labels(mt)["op"] == "append" {
				n = mt.GetHistogram().GetSampleCount()
			}
		}
		if n != 2 {
			t.Errorf("hide=%v: %d append observations, want 2", hide, n)
		}
		s.Close()
	}
}

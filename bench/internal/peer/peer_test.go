package peer

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// recorder is a Sender that keeps what it was sent.
type recorder struct {
	mu     sync.Mutex
	frames []string
}

func (r *recorder) Send(p []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, string(p))
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frames
	r.frames = nil
	return f
}

func TestHubProtocol(t *testing.T) {
	h := NewHub()
	var a, b recorder
	sa, sb := h.Session(&a, "alice"), h.Session(&b, "")
	steps := []struct {
		s     *Session
		in    string
		wantA []string
		wantB []string
	}{
		{sa, `{"type":"join","room":"r"}`, []string{`{"type":"error","code":"not_found","message":"no such room"}`}, nil},
		{sa, `{"type":"create","room":"r"}`, []string{`{"type":"created","room":"r"}`}, nil},
		{sb, `{"type":"create","room":"r"}`, nil, []string{`{"type":"error","code":"exists","message":"room exists"}`}},
		{sa, `{"type":"create","room":"Bad Room"}`, []string{`{"type":"error","code":"bad_request","message":"bad room id"}`}, nil},
		{sa, `{"type":"join","room":"r"}`, []string{`{"type":"joined","room":"r","seq":0}`}, nil},
		{sa, `{"type":"join","room":"r"}`, []string{`{"type":"error","code":"bad_request","message":"already joined"}`}, nil},
		{sb, `{"type":"publish","room":"r","id":"x","body":1}`, nil, []string{`{"type":"error","code":"not_joined","message":"join the room first"}`}},
		{sa, `{"type":"publish","room":"r","id":"m1","body":{"t":5}}`,
			[]string{`{"type":"ack","id":"m1","room":"r","seq":1}`, `{"type":"message","room":"r","seq":1,"id":"m1","from":"alice","body":{"t":5}}`}, nil},
		{sb, `{"type":"join","room":"r"}`, nil, []string{`{"type":"joined","room":"r","seq":1}`}},
		{sb, `{"type":"publish","room":"r","id":"m\"2","body":"hi"}`,
			[]string{`{"type":"message","room":"r","seq":2,"id":"m\"2","from":"guest","body":"hi"}`},
			[]string{`{"type":"ack","id":"m\"2","room":"r","seq":2}`, `{"type":"message","room":"r","seq":2,"id":"m\"2","from":"guest","body":"hi"}`}},
		{sa, `not json`, []string{`{"type":"error","code":"bad_request","message":"not a JSON object"}`}, nil},
		{sa, `{"type":"typing","room":"r"}`, []string{`{"type":"error","code":"unknown_type","message":"this peer speaks create, join, leave and publish"}`}, nil},
	}
	for i, st := range steps {
		st.s.Handle([]byte(st.in))
		gotA, gotB := a.take(), b.take()
		for _, f := range append(gotA, gotB...) {
			var v map[string]any
			if err := json.Unmarshal([]byte(f), &v); err != nil {
				t.Fatalf("step %d: frame %s is not JSON: %v", i, f, err)
			}
		}
		if strings.Join(gotA, "\n") != strings.Join(st.wantA, "\n") || strings.Join(gotB, "\n") != strings.Join(st.wantB, "\n") {
			t.Fatalf("step %d %s:\nalice got %q\nwant      %q\nbob got   %q\nwant      %q", i, st.in, gotA, st.wantA, gotB, st.wantB)
		}
	}
	// After Close, alice gets nothing from the room.
	sa.Close()
	sb.Handle([]byte(`{"type":"publish","room":"r","id":"m3","body":0}`))
	if got := a.take(); len(got) != 0 {
		t.Fatalf("alice got %q after leaving", got)
	}
	if got := b.take(); len(got) != 2 {
		t.Fatalf("bob got %q, want ack and message", got)
	}
}

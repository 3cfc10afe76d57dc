package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecodeClientFrame(t *testing.T) {
	limits := ChatLimits{MaxBodyBytes: 32, MaxIDBytes: 8}
	for _, tc := range []struct {
		name string
		in   string
		code string // "" when valid
	}{
		{"join", `{"type":"join","room":"general"}`, ""},
		{"join since", `{"type":"join","room":"general","since":42}`, ""},
		{"publish", `{"type":"publish","room":"r","id":"m1","body":{"text":"hi"}}`, ""},
		{"publish string body", `{"type":"publish","room":"r","id":"m1","body":"hi"}`, ""},
		{"unknown fields tolerated", `{"type":"leave","room":"r","x":1}`, ""},
		{"presence", `{"type":"presence","status":"away"}`, ""},
		{"role", `{"type":"role","room":"r","user":"bob","role":"admin"}`, ""},
		{"not json", `hello`, CodeBadRequest},
		{"array", `[1,2]`, CodeBadRequest},
		{"two objects", `{"type":"leave","room":"r"} {}`, CodeBadRequest},
		{"trailing brace", `{"type":"leave","room":"r"}}`, CodeBadRequest},
		{"trailing bracket", `{"type":"leave","room":"r"}]`, CodeBadRequest},
		{"trailing white space", "{\"type\":\"leave\",\"room\":\"r\"} \r\n\t", ""},
		{"no type", `{"room":"r"}`, CodeBadRequest},
		{"unknown type", `{"type":"teleport"}`, CodeUnknownType},
		{"wrong type for since", `{"type":"join","room":"r","since":"abc"}`, CodeBadRequest},
		{"negative since", `{"type":"join","room":"r","since":-1}`, CodeBadRequest},
		{"room too long", `{"type":"join","room":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`, CodeBadRequest},
		{"room missing", `{"type":"join"}`, CodeBadRequest},
		{"publish without id", `{"type":"publish","room":"r","body":1}`, CodeBadRequest},
		{"publish id too long", `{"type":"publish","room":"r","id":"123456789","body":1}`, CodeBadRequest},
		{"publish without body", `{"type":"publish","room":"r","id":"a"}`, CodeBadRequest},
		{"publish body too large", `{"type":"publish","room":"r","id":"a","body":"` + strings.Repeat("x", 40) + `"}`, CodeTooLarge},
		{"presence bad status", `{"type":"presence","status":"gone"}`, CodeBadRequest},
		{"read zero", `{"type":"read","room":"r","seq":0}`, CodeBadRequest},
		{"role bad", `{"type":"role","room":"r","user":"bob","role":"god"}`, CodeBadRequest},
		{"kick no user", `{"type":"kick","room":"r"}`, CodeBadRequest},
		{"deep nesting", `{"type":"publish","room":"r","id":"a","body":` + strings.Repeat("[", 100000) + `}`, CodeBadRequest},
		{"ref too long", `{"type":"leave","room":"r","ref":"123456789"}`, CodeBadRequest},
		{"ref too long and bad field", `{"type":"leave","room":5,"ref":"123456789"}`, CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeClientFrame([]byte(tc.in), limits)
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.code != "" && err == nil:
				t.Fatalf("accepted, want %s", tc.code)
			case tc.code != "" && err.Code != tc.code:
				t.Fatalf("code %s (%s), want %s", err.Code, err.Message, tc.code)
			}
			if f, err := DecodeClientFrame([]byte(tc.in), limits); err != nil && len(f.Ref) > limits.MaxIDBytes {
				t.Fatalf("error would echo a %d-byte ref", len(f.Ref))
			}
			if err != nil && len(err.Message) > 200 {
				t.Fatalf("error message too long (%d bytes): it must not echo input", len(err.Message))
			}
		})
	}
}

func TestServerFramesAreValidJSONWithTypeFirst(t *testing.T) {
	m := &ChatMessage{Room: "r", Seq: 7, ID: "a\"b\\c\n<x>", From: "al\u00e9\x01", Body: json.RawMessage(`{"t":1}`),
		TS: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	for _, frame := range [][]byte{
		AppendMessageFrame(nil, m),
		AppendChatFrame(nil, "welcome", map[string]any{"user": "al", "protocol": ChatVersion}),
		AppendChatFrame(nil, "empty", struct{}{}),
		AppendErrorFrame(nil, "r1", &ChatError{Code: CodeForbidden, Message: "no"}),
	} {
		var v map[string]any
		if err := json.Unmarshal(frame, &v); err != nil {
			t.Fatalf("%s: %v", frame, err)
		}
		if !strings.HasPrefix(string(frame), `{"type":"`) {
			t.Fatalf("type not first: %s", frame)
		}
	}
	var back ChatMessage
	if err := json.Unmarshal(AppendMessageFrame(nil, m), &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != m.ID || back.From != m.From || back.Seq != 7 || !back.TS.Equal(m.TS) {
		t.Fatalf("round trip: %+v", back)
	}
}

func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{`{"type":"join","room":"a","since":1}`, `{"type":"publish","room":"a","id":"x","body":[1,{"a":null}]}`, `{`, `null`, `{"type":1}`,
		// Hostile shapes from the adversarial suite: trailing bytes, forged
		// server fields, deep nesting, huge numbers, escapes, odd types.
		`{"type":"leave","room":"r"}}`, `{"type":"leave","room":"r"}]`, `{"type":"leave","room":"r"} {}`,
		`{"type":"publish","room":"r","id":"x","body":1,"from":"admin","seq":9,"ts":"1999-01-01T00:00:00Z"}`,
		`{"type":"publish","room":"r","id":"x","body":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
		`{"type":"join","room":"r","since":18446744073709551616}`, `{"type":"join","room":"r","since":1e400}`,
		`{"type":"join","room":"r\u0000"}`, `{"type":"JOIN","room":"r"}`, `{"type":"kick","room":"r","user":"a\u0085b"}`,
		`{"type":"role","room":"r","user":"bob","role":"owner","ref":"` + strings.Repeat("x", 100) + `"}`,
		"\xef\xbb\xbf{\"type\":\"leave\",\"room\":\"r\"}", `{"type":"leave","room":"r","type":"join"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := DecodeClientFrame(msg, ChatLimits{})
		if err == nil && fr.Type == "" {
			t.Fatal("accepted a frame without a type")
		}
		if err == nil && !json.Valid(msg) {
			t.Fatalf("accepted %q, which is not one valid JSON value", msg)
		}
		if err != nil && (len(err.Message) > 200 || len(fr.Ref) > 64) {
			t.Fatalf("error %q with ref %q: echoes input", err.Message, fr.Ref)
		}
	})
}

func BenchmarkAppendMessageFrame(b *testing.B) {
	m := &ChatMessage{Room: "general", Seq: 123456, ID: "c-42", From: "alice", Body: json.RawMessage(`{"text":"hello there"}`),
		TS: time.Now()}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMessageFrame(buf[:0], m)
	}
}

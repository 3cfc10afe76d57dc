package room

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/store"
)

// serverFrameTypes is every type of frame the chat layer sends. The schema's
// serverFrame union must list exactly these, and the source scan in
// TestSchemaListsEveryServerFrame keeps this list honest.
var serverFrameTypes = []string{
	"welcome", "created", "joined", "left", "ack", "message", "history", "typing",
	"read", "presence", "invite", "role", "kicked", "reset", "error", "members", "revoked", "goaway",
}

const schemaFile = "../docs/protocol.schema.json"

// frameSchema validates one direction of the protocol: the oneOf union, and
// each alternative by type for a readable message when the union fails.
type frameSchema struct {
	union  *jsonschema.Schema
	byType map[string]*jsonschema.Schema
}

type protocolSchemas struct {
	doc            map[string]any
	client, server frameSchema
}

// loadSchemas compiles docs/protocol.schema.json once per test binary.
var loadSchemas = sync.OnceValues(func() (*protocolSchemas, error) {
	raw, err := os.ReadFile(schemaFile)
	if err != nil {
		return nil, err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", schemaFile, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not an object", schemaFile)
	}
	id, _ := doc["$id"].(string)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		return nil, err
	}
	ps := &protocolSchemas{doc: doc}
	for _, dir := range []struct {
		union string
		fs    *frameSchema
	}{{"clientFrame", &ps.client}, {"serverFrame", &ps.server}} {
		if dir.fs.union, err = c.Compile(id + "#/$defs/" + dir.union); err != nil {
			return nil, err
		}
		types, err := unionTypes(doc, dir.union)
		if err != nil {
			return nil, err
		}
		dir.fs.byType = map[string]*jsonschema.Schema{}
		for typ, def := range types {
			if dir.fs.byType[typ], err = c.Compile(id + "#/$defs/" + def); err != nil {
				return nil, err
			}
		}
	}
	return ps, nil
})

func mustLoadSchemas(t testing.TB) *protocolSchemas {
	t.Helper()
	ps, err := loadSchemas()
	if err != nil {
		t.Fatalf("docs/protocol.schema.json: %v", err)
	}
	return ps
}

// check validates one frame as it is on the wire.
func (fs *frameSchema) check(frame []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(frame))
	if err != nil {
		return fmt.Errorf("not one JSON value: %v", err)
	}
	err = fs.union.Validate(v)
	if err == nil {
		return nil
	}
	if m, ok := v.(map[string]any); ok {
		if typ, ok := m["type"].(string); ok && fs.byType[typ] != nil {
			if e := fs.byType[typ].Validate(v); e != nil {
				return e // says what is wrong with this type of frame
			}
		}
	}
	return err
}

// unionTypes maps each "type" const of a oneOf union of $defs to its def.
func unionTypes(doc map[string]any, union string) (map[string]string, error) {
	defs, _ := doc["$defs"].(map[string]any)
	u, _ := defs[union].(map[string]any)
	alts, _ := u["oneOf"].([]any)
	if len(alts) == 0 {
		return nil, fmt.Errorf("$defs/%s is not a oneOf union", union)
	}
	out := map[string]string{}
	for _, alt := range alts {
		a, _ := alt.(map[string]any)
		ref, _ := a["$ref"].(string)
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		def, _ := defs[name].(map[string]any)
		props, _ := def["properties"].(map[string]any)
		typeProp, _ := props["type"].(map[string]any)
		typ, isStr := typeProp["const"].(string)
		if !ok || !isStr {
			return nil, fmt.Errorf("$defs/%s: alternative %v is not a $ref to a def with a const type", union, alt)
		}
		if _, dup := out[typ]; dup {
			return nil, fmt.Errorf("$defs/%s: type %q twice", union, typ)
		}
		out[typ] = name
	}
	return out, nil
}

// TestSchemaListsEveryServerFrame compares serverFrameTypes with the
// schema, and with the frame types this package's source passes to send,
// announce, protocol.AppendChatFrame and the protocol encoders.
func TestSchemaListsEveryServerFrame(t *testing.T) {
	ps := mustLoadSchemas(t)
	inSchema, err := unionTypes(ps.doc, "serverFrame")
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(serverFrameTypes))
	if got := slices.Sorted(func(yield func(string) bool) {
		for typ := range inSchema {
			if !yield(typ) {
				return
			}
		}
	}); !slices.Equal(got, want) {
		t.Errorf("schema's serverFrame types %v, want serverFrameTypes %v", got, want)
	}
	for typ, def := range inSchema {
		if def != "server."+typ {
			t.Errorf("server type %q is in $defs/%s, want server.%s", typ, def, typ)
		}
	}

	sent := sourceFrameTypes(t)
	for typ, pos := range sent {
		if !slices.Contains(serverFrameTypes, typ) {
			t.Errorf("%s sends frame type %q: add it to serverFrameTypes and docs/protocol.schema.json", pos, typ)
		}
	}
	for _, typ := range serverFrameTypes {
		if _, ok := sent[typ]; !ok {
			t.Errorf("serverFrameTypes lists %q, which room's source never sends", typ)
		}
	}
}

// sourceFrameTypes parses room's non-test files and returns each frame type
// string they send, with where.
func sourceFrameTypes(t *testing.T) map[string]string {
	t.Helper()
	// Calls that take a frame type, and the index of that argument.
	typeArg := map[string]int{"send": 1, "announce": 1, "AppendChatFrame": 1}
	// Encoders of one fixed type, and senders that use them.
	fixed := map[string]string{"AppendMessageFrame": "message", "AppendErrorFrame": "error", "sendError": "error"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				var callee string
				switch fun := call.Fun.(type) {
				case *ast.Ident:
					callee = fun.Name
				case *ast.SelectorExpr:
					callee = fun.Sel.Name
				}
				pos := fset.Position(call.Pos()).String()
				if typ, ok := fixed[callee]; ok {
					found[typ] = pos
				}
				i, ok := typeArg[callee]
				if !ok || i >= len(call.Args) {
					return true
				}
				switch arg := call.Args[i].(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(arg.Value); err == nil && arg.Kind == token.STRING {
						found[s] = pos
						return true
					}
				case *ast.Ident:
					// A forwarder passing its own parameter on; its
					// callers are scanned.
					if _, fwd := typeArg[fn.Name.Name]; fwd {
						return true
					}
				}
				t.Errorf("%s: frame type %s is not a string literal, so this test cannot check it is in the schema",
					pos, exprKind(call.Args[i]))
				return true
			})
		}
	}
	return found
}

func exprKind(e ast.Expr) string { return fmt.Sprintf("%T", e) }

// serverAccepts is what Service.OnMessage checks before a handler runs:
// DecodeClientFrame, then the store's room id rule. Handlers refuse frames
// only for the state they find (membership, roles, existence), except a
// role of "owner", which the schema rejects outright (see below).
func serverAccepts(frame string) bool {
	f, err := protocol.DecodeClientFrame([]byte(frame), protocol.ChatLimits{})
	return err == nil && (f.Room == "" || store.ValidRoomID(f.Room))
}

func TestSchemaAgreesWithServerOnClientFrames(t *testing.T) {
	client := mustLoadSchemas(t).client
	long := func(n int) string { return strings.Repeat("a", n) }
	good := []string{
		`{"type":"create","room":"general"}`,
		`{"type":"create","room":"a_b-9","private":true}`,
		`{"type":"create","room":"` + long(64) + `","private":false}`,
		`{"type":"join","room":"r"}`,
		`{"type":"join","room":"r","since":0}`,
		`{"type":"join","room":"r","since":18446744073709551615}`,
		`{"type":"join","room":"r","invite":"x.r.1.y"}`,
		`{"type":"join","room":"r","ref":"` + long(64) + `"}`,
		`{"type":"join","room":"r","ref":""}`,
		`{"type":"join","room":"r","x":{"unknown":[1,null]},"user":"a b","status":"?"}`,
		`{"ref":"1","room":"r","type":"leave"}`,
		`{"type":"leave","room":"r","id":"` + long(100) + `"}`,
		`{"type":"publish","room":"r","id":"m1","body":{"text":"hi"}}`,
		`{"type":"publish","room":"r","id":"` + long(64) + `","body":"hi"}`,
		`{"type":"publish","room":"r","id":"m","body":null}`,
		`{"type":"publish","room":"r","id":"m","body":[false,1.5,{}]}`,
		`{"type":"history","room":"r"}`,
		`{"type":"history","room":"r","before":10,"limit":30}`,
		`{"type":"history","room":"r","limit":0}`,
		`{"type":"history","room":"r","limit":100000}`,
		`{"type":"typing","room":"r"}`,
		`{"type":"read","room":"r","seq":1}`,
		`{"type":"read","room":"r","seq":18446744073709551615}`,
		`{"type":"presence","status":"online"}`,
		`{"type":"presence","status":"away","room":"r"}`,
		`{"type":"presence","status":"away","room":""}`,
		`{"type":"invite","room":"r"}`,
		`{"type":"invite","room":"r","ttl":0}`,
		`{"type":"invite","room":"r","ttl":9223372036854775807}`,
		`{"type":"role","room":"r","user":"bob","role":"admin"}`,
		`{"type":"role","room":"r","user":"jos\u00e9","role":"member"}`,
		`{"type":"kick","room":"r","user":"` + long(128) + `"}`,
	}
	bad := []string{
		`not json`,
		`[]`,
		`null`,
		`"join"`,
		`{}`,
		`{"type":5}`,
		`{"type":""}`,
		`{"type":"teleport"}`,
		`{"type":"Join","room":"r"}`,
		`{"type":"leave","room":"r"} {}`,
		`{"type":"join"}`,
		`{"type":"join","room":""}`,
		`{"type":"join","room":null}`,
		`{"type":"join","room":5}`,
		`{"type":"join","room":"Bad Room"}`,
		`{"type":"join","room":"UPPER"}`,
		`{"type":"join","room":"` + long(65) + `"}`,
		`{"type":"join","room":"r","since":-1}`,
		`{"type":"join","room":"r","since":"3"}`,
		`{"type":"join","room":"r","since":1.5}`,
		`{"type":"join","room":"r","since":18446744073709551616}`,
		`{"type":"join","room":"r","invite":7}`,
		`{"type":"join","room":"r","ref":"` + long(65) + `"}`,
		`{"type":"join","room":"r","ref":5}`,
		`{"type":"leave","room":"r","since":"x"}`,
		`{"type":"typing","room":"r","private":"yes"}`,
		`{"type":"typing","room":"r","limit":9223372036854775808}`,
		`{"type":"presence","status":"online","room":"Bad Room"}`,
		`{"type":"publish","room":"r","body":1}`,
		`{"type":"publish","room":"r","id":"","body":1}`,
		`{"type":"publish","room":"r","id":"` + long(65) + `","body":1}`,
		`{"type":"publish","room":"r","id":"m"}`,
		`{"type":"publish","id":"m","body":1}`,
		`{"type":"history","room":"r","limit":-1}`,
		`{"type":"history","room":"r","limit":"5"}`,
		`{"type":"history","room":"r","before":-1}`,
		`{"type":"read","room":"r"}`,
		`{"type":"read","room":"r","seq":0}`,
		`{"type":"read","room":"r","seq":-1}`,
		`{"type":"presence"}`,
		`{"type":"presence","status":"gone"}`,
		`{"type":"presence","status":"offline"}`,
		`{"type":"invite","room":"r","ttl":-1}`,
		`{"type":"role","room":"r","user":"bob","role":"god"}`,
		`{"type":"role","room":"r","user":"bob"}`,
		`{"type":"role","room":"r","role":"admin"}`,
		`{"type":"role","room":"r","user":"a b","role":"admin"}`,
		`{"type":"kick","room":"r"}`,
		`{"type":"kick","room":"r","user":""}`,
		`{"type":"kick","room":"r","user":"tab\t"}`,
		`{"type":"kick","room":"r","user":"` + long(129) + `"}`,
		`{"type":"create","room":"r","private":1}`,
	}
	for _, frame := range good {
		if !serverAccepts(frame) {
			t.Errorf("the server refuses %s: move it to bad", frame)
		}
		if err := client.check([]byte(frame)); err != nil {
			t.Errorf("the server accepts %s, the schema does not: %v", frame, err)
		}
	}
	for _, frame := range bad {
		if serverAccepts(frame) {
			t.Errorf("the server accepts %s: move it to good", frame)
		}
		if client.check([]byte(frame)) == nil {
			t.Errorf("the server refuses %s, the schema accepts it", frame)
		}
	}

	// Where they differ, on purpose or because JSON Schema cannot say it;
	// the schema's $comment tells clients. A case that comes to agree
	// belongs in good or bad above.
	for _, tc := range []struct {
		frame          string
		server, schema bool
		why            string
	}{
		{`{"type":"join","room":"r","since":null}`, true, false, "encoding/json ignores null"},
		{`{"type":"join","ROOM":"r"}`, true, false, "encoding/json matches field names case-insensitively"},
		{`{"type":"join","room":"r","Room":"Bad Room"}`, false, true, "encoding/json takes the last of room and Room"},
		{`{"type":"role","room":"r","user":"bob","role":"owner"}`, true, false, "the role handler refuses owner with bad_request"},
		{`{"type":"join","room":"r","since":1.0}`, false, true, "JSON Schema counts 1.0 as an integer"},
		{`{"type":"join","room":"r","since":1e2}`, false, true, "JSON Schema counts 1e2 as an integer"},
		{`{"type":"publish","room":"r","id":"` + strings.Repeat("\u00e9", 33) + `","body":1}`, false, true,
			"ids are bounded in bytes, maxLength counts characters"},
		{`{"type":"publish","room":"r","id":"m","body":"` + long(16<<10) + `"}`, false, true,
			"the body limit is in bytes of JSON text"},
	} {
		if got := serverAccepts(tc.frame); got != tc.server {
			t.Errorf("%.80s: server accepts = %v, want %v (%s)", tc.frame, got, tc.server, tc.why)
		}
		if got := client.check([]byte(tc.frame)) == nil; got != tc.schema {
			t.Errorf("%.80s: schema accepts = %v, want %v (%s)", tc.frame, got, tc.schema, tc.why)
		}
	}
}

// TestSchemaEveryServerFrameEndToEnd makes the server send every type of
// frame; the test client validates each against the schema as it arrives.
func TestSchemaEveryServerFrameEndToEnd(t *testing.T) {
	s := startServer(t, nil)
	seen := map[string]bool{}
	see := func(f map[string]any) map[string]any {
		seen[f["type"].(string)] = true
		return f
	}
	owner, bob := s.dial(t, "owner"), s.dial(t, "bob")
	seen["welcome"] = true // dial expects it

	owner.send(`{"type":"create","room":"r","private":true}`)
	see(owner.expect("created"))
	owner.send(`{"type":"join","room":"r"}`)
	see(owner.expect("joined"))
	owner.send(`{"type":"invite","room":"r","ttl":60}`)
	token := see(owner.expect("invite"))["token"].(string)
	bob.send(fmt.Sprintf(`{"type":"join","room":"r","invite":%q}`, token))
	see(bob.expect("joined"))
	see(owner.expect("presence"))
	owner.send(fmt.Sprintf(`{"type":"revoke","room":"r","invite":%q}`, token))
	see(owner.expect("revoked"))
	bob.send(`{"type":"publish","room":"r","id":"m1","body":{"text":"hi"}}`)
	see(bob.expect("ack"))
	see(owner.expect("message"))
	bob.send(`{"type":"typing","room":"r"}`)
	see(owner.expect("typing"))
	owner.send(`{"type":"read","room":"r","seq":1}`)
	see(bob.expect("read"))
	owner.send(`{"type":"history","room":"r","limit":10}`)
	if h := see(owner.expect("history")); len(h["messages"].([]any)) != 1 {
		t.Fatalf("history %v", h)
	}
	owner.send(`{"type":"members","room":"r"}`)
	if m := see(owner.expect("members")); m["count"] != float64(2) {
		t.Fatalf("members %v", m)
	}
	owner.send(`{"type":"role","room":"r","user":"bob","role":"admin"}`)
	see(bob.expect("role"))
	owner.send(`{"type":"kick","room":"r","user":"bob"}`)
	see(bob.expect("kicked"))
	owner.send(`{"type":"leave","room":"r"}`)
	see(owner.expect("left"))
	owner.send(`{"type":"join","room":"r","since":5}`) // ahead of the room
	if r := see(owner.expect("reset")); seqOf(r) != 1 {
		t.Fatalf("reset %v", r)
	}
	see(owner.expect("joined"))
	owner.send(`{"type":"leave","room":"elsewhere","ref":"q1"}`)
	if e := see(owner.expect("error")); e["ref"] != "q1" || e["code"] != protocol.CodeNotJoined {
		t.Fatalf("error %v", e)
	}
	go s.e.Shutdown(context.Background()) // the last frame of all: goaway
	see(owner.expect("goaway"))

	for _, typ := range serverFrameTypes {
		if !seen[typ] {
			t.Errorf("no %s frame went through the schema check; extend this test", typ)
		}
	}
}

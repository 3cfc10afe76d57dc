package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The chat protocol's JSON Schema. room's tests validate every frame their
// clients send and receive against it; these tests keep it valid and in
// step with this package.
const schemaFile = "../docs/protocol.schema.json"

func schemaID() string {
	return fmt.Sprintf("https://switchboard.invalid/protocol/%d/schema.json", ChatVersion)
}

func loadSchemaDoc(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s is not JSON: %v", schemaFile, err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("%s is not a JSON object", schemaFile)
	}
	return m
}

// newCompiler holds the schema, with format assertions on as the room
// tests use it.
func newCompiler(t *testing.T, doc map[string]any) *jsonschema.Compiler {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schemaID(), doc); err != nil {
		t.Fatal(err)
	}
	return c
}

// compileDef compiles one of the schema's $defs ("" for the root).
func compileDef(t *testing.T, c *jsonschema.Compiler, def string) *jsonschema.Schema {
	t.Helper()
	loc := schemaID()
	if def != "" {
		loc += "#/$defs/" + def
	}
	s, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("compile %s: %v", loc, err)
	}
	return s
}

// unionTypes maps each "type" const in a oneOf union of $defs to its def.
func unionTypes(t *testing.T, doc map[string]any, union string) map[string]string {
	t.Helper()
	defs := doc["$defs"].(map[string]any)
	u, ok := defs[union].(map[string]any)
	if !ok {
		t.Fatalf("schema has no $defs/%s", union)
	}
	out := map[string]string{}
	for _, alt := range u["oneOf"].([]any) {
		ref, _ := alt.(map[string]any)["$ref"].(string)
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		def, _ := defs[name].(map[string]any)
		if !ok || def == nil {
			t.Fatalf("$defs/%s: alternative %v is not a $ref to a def", union, alt)
		}
		props, _ := def["properties"].(map[string]any)
		typeProp, _ := props["type"].(map[string]any)
		typ, ok := typeProp["const"].(string)
		if !ok {
			t.Fatalf("$defs/%s has no properties.type.const", name)
		}
		if _, dup := out[typ]; dup {
			t.Fatalf("$defs/%s: type %q appears twice", union, typ)
		}
		req, _ := def["required"].([]any)
		if !slices.Contains(req, any("type")) {
			t.Errorf("$defs/%s does not require type", name)
		}
		out[typ] = name
	}
	return out
}

func TestSchemaIsValidJSONSchema(t *testing.T) {
	doc := loadSchemaDoc(t)
	meta, err := jsonschema.NewCompiler().Compile("https://json-schema.org/draft/2020-12/schema")
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.Validate(doc); err != nil {
		t.Fatalf("%s is not a valid draft 2020-12 schema: %v", schemaFile, err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v, want draft 2020-12", doc["$schema"])
	}
	if doc["$id"] != schemaID() {
		t.Errorf("$id = %v, want %s (the version is ChatVersion)", doc["$id"], schemaID())
	}
	if doc["version"] != json.Number(strconv.Itoa(ChatVersion)) {
		t.Errorf("version = %v, want ChatVersion %d", doc["version"], ChatVersion)
	}
	c := newCompiler(t, doc)
	compileDef(t, c, "")
	for name := range doc["$defs"].(map[string]any) {
		compileDef(t, c, name)
	}
	// The welcome frame announces ChatVersion.
	welcome := compileDef(t, c, "server.welcome")
	for v, ok := range map[int]bool{ChatVersion: true, ChatVersion + 1: false} {
		f := AppendChatFrame(nil, "welcome", map[string]any{"user": "al", "session": "1", "protocol": v})
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(f))
		if err := welcome.Validate(inst); (err == nil) != ok {
			t.Errorf("welcome with protocol %d: schema says %v", v, err)
		}
	}
}

// Every client type the decoder knows has a def in clientFrame and the
// reverse, each named client.<type>.
func TestSchemaClientFramesMatchDecoder(t *testing.T) {
	doc := loadSchemaDoc(t)
	inSchema := unionTypes(t, doc, "clientFrame")
	for typ := range clientTypes {
		if _, ok := inSchema[typ]; !ok {
			t.Errorf("DecodeClientFrame accepts type %q, which docs/protocol.schema.json's clientFrame lacks", typ)
		}
	}
	for typ, def := range inSchema {
		if _, ok := clientTypes[typ]; !ok {
			t.Errorf("clientFrame has type %q, which DecodeClientFrame does not know", typ)
		}
		if def != "client."+typ {
			t.Errorf("client type %q is in $defs/%s, want client.%s", typ, def, typ)
		}
	}
}

// The error frame's code enum is exactly the Code* constants of this
// package, found by parsing its source so a new code cannot be missed.
func TestSchemaErrorCodesMatchConstants(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Code") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: %s is not a string literal", fset.Position(id.Pos()), id.Name)
					}
					s, _ := strconv.Unquote(lit.Value)
					codes = append(codes, s)
				}
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("found no Code* constants")
	}
	doc := loadSchemaDoc(t)
	errDef := doc["$defs"].(map[string]any)["server.error"].(map[string]any)
	var enum []string
	for _, v := range errDef["properties"].(map[string]any)["code"].(map[string]any)["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	slices.Sort(codes)
	slices.Sort(enum)
	if !slices.Equal(codes, enum) {
		t.Fatalf("error codes: protocol has %v, schema's server.error code enum has %v", codes, enum)
	}
}

// The frames this package encodes itself validate, edge cases included.
func TestSchemaAcceptsEncodedServerFrames(t *testing.T) {
	doc := loadSchemaDoc(t)
	server := compileDef(t, newCompiler(t, doc), "serverFrame")
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("CET", 3600)) // encoded in UTC
	for _, f := range [][]byte{
		AppendMessageFrame(nil, &ChatMessage{Room: "r", Seq: 1, ID: "m", From: "al", Body: json.RawMessage(`null`), TS: ts}),
		AppendMessageFrame(nil, &ChatMessage{Room: strings.Repeat("a", 64), Seq: 1<<64 - 1, ID: "a\"b\\c\n<x>",
			From: "al\u00e9", Body: json.RawMessage(`{"t":[1,"x"]}`), TS: ts}),
		AppendErrorFrame(nil, "", &ChatError{Code: CodeInternal, Message: "internal error"}),
		AppendErrorFrame(nil, "r1", &ChatError{Code: CodeBadRequest, Message: "no"}),
	} {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := server.Validate(inst); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{
		`{"type":"message","room":"r","seq":0,"id":"m","from":"al","body":1,"ts":"2026-01-02T03:04:05Z"}`,       // seq from 1
		`{"type":"message","room":"r","seq":1,"id":"m","from":"al","body":1,"ts":"2026-01-02T03:04:05+01:00"}`,  // not UTC
		`{"type":"message","room":"r","seq":1,"id":"m","from":"al","body":1,"ts":"2026-01-02"}`,                 // not date-time
		`{"type":"message","room":"r","seq":1,"id":"m","from":"al","body":1}`,                                   // no ts
		`{"type":"message","room":"r","seq":1,"id":"m","from":"al","body":1,"ts":"2026-01-02T03:04:05Z","x":1}`, // extra field
		`{"type":"error","code":"teapot","message":"no"}`,
		`{"type":"error","code":"internal","message":"no","ref":""}`, // ref is omitted when empty
		`{"type":"presence","room":"r","user":"al","status":"busy"}`,
		`{"type":"kicked","room":"r","user":"al","by":"bo","role":""}`,
		`{"type":"joined","room":"r","seq":0,"history":null,"online":1}`,
		`{"type":"left","room":"Bad Room"}`,
		`{"type":"ack","id":"","room":"r","seq":1}`,
		`{"type":"welcome","user":"al","session":"1","protocol":1,"version":2}`,
		`{"type":"teleported"}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if server.Validate(inst) == nil {
			t.Errorf("schema accepts %s", f)
		}
	}
}

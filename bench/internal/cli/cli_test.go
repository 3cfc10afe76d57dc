package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSplitInputs(t *testing.T) {
	ins, rest := SplitInputs([]string{"--in", "a.json", "b.json", "--out", "x.md", "--in=c.json", "-svg", "x.svg"})
	if want := []string{"a.json", "b.json", "c.json"}; !reflect.DeepEqual(ins, want) {
		t.Errorf("ins = %v, want %v", ins, want)
	}
	if want := []string{"--out", "x.md", "-svg", "x.svg"}; !reflect.DeepEqual(rest, want) {
		t.Errorf("rest = %v, want %v", rest, want)
	}
}

func TestExpandGlobs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"echo-b.json", "echo-a.json", "other.json"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ExpandGlobs([]string{filepath.Join(dir, "echo-*.json"), filepath.Join(dir, "echo-a.json")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "echo-a.json"), filepath.Join(dir, "echo-b.json")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := ExpandGlobs([]string{filepath.Join(dir, "none-*.json")}); err == nil {
		t.Error("a pattern matching nothing must fail")
	}
}

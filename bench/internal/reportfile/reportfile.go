// Package reportfile reads and writes a scenario's result files
// (<out>.json, <out>.md) and handles the shared part of the `*-report`
// commands that combine several results.
package reportfile

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/cli"
)

// Write writes res as <out>.json and, rendered by markdown, as <out>.md.
func Write[T any](out string, res *T, markdown func(io.Writer, *T)) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out+".json", append(b, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	markdown(&md, res)
	return os.WriteFile(out+".md", []byte(md.String()), 0o644)
}

// Read loads a result written by Write.
func Read[T any](path string) (*T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r T
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// WriteSysctls renders the sysctls table of a report, sorted by name.
func WriteSysctls(w io.Writer, sysctls map[string]string) {
	fmt.Fprintf(w, "Sysctls:\n\n| setting | value |\n|---|---|\n")
	names := make([]string, 0, len(sysctls))
	for n := range sysctls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "| %s | %s |\n", n, sysctls[n])
	}
}

// Combined is a parsed `<scenario>-report` command line.
type Combined struct {
	Name  string   // the command, e.g. "echo-report"
	Out   string   // --out, the Markdown report
	SVG   string   // --svg, optional
	Paths []string // the --in globs expanded, sorted
}

// ParseCombined parses a `<name> --in A.json [B.json ...] --out X.md
// [--svg X.svg]` command line. svgUsage describes --svg; flags, when not
// nil, adds the command's own flags to the set before parsing.
func ParseCombined(name, svgUsage string, args []string, flags func(*flag.FlagSet)) (Combined, error) {
	c := Combined{Name: name}
	ins, rest := cli.SplitInputs(args)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.Out, "out", "", "combined Markdown report to write (required)")
	fs.StringVar(&c.SVG, "svg", "", svgUsage)
	if flags != nil {
		flags(fs)
	}
	if err := fs.Parse(rest); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if len(ins) == 0 || c.Out == "" {
		return c, errors.New("--in and --out are required")
	}
	var err error
	c.Paths, err = cli.ExpandGlobs(ins)
	return c, err
}

// ReadAll loads every one of paths with Read.
func ReadAll[T any](paths []string) ([]*T, error) {
	var results []*T
	for _, p := range paths {
		r, err := Read[T](p)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, nil
}

// SVGName is how the Markdown report links the SVG: relative to the
// report's directory where possible; empty without --svg.
func (c Combined) SVGName() string {
	if c.SVG == "" {
		return ""
	}
	rel, err := filepath.Rel(filepath.Dir(c.Out), c.SVG)
	if err != nil {
		return c.SVG
	}
	return rel
}

// JSONPath is where the combined report's data goes: --out with .json
// for .md.
func (c Combined) JSONPath() string { return strings.TrimSuffix(c.Out, ".md") + ".json" }

// Write writes the Markdown report md, the combined data as JSON next to
// it (JSONPath) and, with --svg, the chart svg draws, then says on stderr
// what it wrote.
func (c Combined) Write(md string, data any, svg func(io.Writer) error) error {
	if err := os.WriteFile(c.Out, []byte(md), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.JSONPath(), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if c.SVG != "" {
		f, err := os.Create(c.SVG)
		if err != nil {
			return err
		}
		if err := svg(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "%s: wrote %s, %s", c.Name, c.Out, c.JSONPath())
	if c.SVG != "" {
		fmt.Fprintf(os.Stderr, " and %s", c.SVG)
	}
	fmt.Fprintln(os.Stderr)
	return nil
}

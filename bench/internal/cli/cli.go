package cli

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// SplitInputs takes the values of --in out of args: "--in A B C" (every
// following argument up to the next flag, so an unquoted shell glob works),
// "--in=A", repeated. rest is args without them, for a flag.FlagSet.
func SplitInputs(args []string) (ins, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--in" || a == "-in" {
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				ins = append(ins, args[i])
			}
			continue
		}
		if v, ok := strings.CutPrefix(a, "--in="); ok {
			ins = append(ins, v)
			continue
		}
		rest = append(rest, a)
	}
	return ins, rest
}

// ExpandGlobs expands each pattern, fails on one that matches nothing, and
// returns the sorted paths without duplicates.
func ExpandGlobs(patterns []string) ([]string, error) {
	seen := map[string]bool{}
	var paths []string
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s matches no file", p)
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				paths = append(paths, m)
			}
		}
	}
	sort.Strings(paths)
	return paths, nil
}

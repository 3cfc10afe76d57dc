package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse reads args (flags, then positional arguments), the environment and
// the config file, applies them in order of precedence, and checks every
// rule. It returns ErrHelp after writing the help text when args ask for
// it, and otherwise every problem found, joined. Parse may be called once.
func (s *Set) Parse(args []string) error {
	if s.parsed {
		panic("config: Parse called twice")
	}
	s.parsed = true
	fs := flag.NewFlagSet(s.Command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, st := range s.settings {
		if !st.noFlag {
			fs.Var(recorder{st}, st.Name, st.Usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			s.Help(s.Stdout)
			return ErrHelp
		}
		return fmt.Errorf("%s: %v (%s --help lists the settings)", s.Command, err, s.Command)
	}
	s.args = fs.Args()

	var errs []error
	if s.file != nil {
		if path := s.configPath(); path != "" {
			errs = append(errs, s.loadFile(path)...)
		}
	}
	for _, st := range s.settings {
		if v, ok := s.LookupEnv(st.Env); ok && st != s.file {
			errs = append(errs, st.apply(v, FromEnv, "env "+st.Env))
		}
	}
	for _, st := range s.settings {
		if st.flagText != nil && st != s.file {
			errs = append(errs, st.apply(*st.flagText, FromFlag, "flag --"+st.Name))
		}
	}
	for _, st := range s.settings {
		if st.failed {
			continue // reported already
		}
		for _, rule := range st.rules {
			if err := rule(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", st.Origin(), err))
				break
			}
		}
	}
	s.unknown = s.unknownEnv()
	return errors.Join(errs...)
}

// recorder is the flag.Value Parse declares: it keeps the text, so that
// flags are applied after the file and the environment whatever their
// order on the command line.
type recorder struct{ st *Setting }

func (r recorder) String() string {
	if r.st == nil {
		return ""
	}
	return r.st.Default
}

func (r recorder) Set(text string) error {
	r.st.flagText = &text
	return nil
}

func (r recorder) IsBoolFlag() bool { return r.st.isBool }

// apply parses text into the setting's variable.
func (st *Setting) apply(text string, src Source, origin string) error {
	st.origin = origin
	if err := st.value.Set(text); err != nil {
		st.failed = true
		shown := fmt.Sprintf(" %q", text)
		if st.secret {
			shown = ""
		}
		return fmt.Errorf("%s: invalid value%s: want %s", st.Origin(), shown, st.want)
	}
	st.source = src
	return nil
}

// configPath is the file named by the config-file flag, else by its
// variable.
func (s *Set) configPath() string {
	st := s.file
	if st.flagText != nil {
		st.apply(*st.flagText, FromFlag, "flag --"+st.Name)
	} else if v, ok := s.LookupEnv(st.Env); ok {
		st.apply(v, FromEnv, "env "+st.Env)
	}
	return st.value.String()
}

// loadFile applies a YAML file: one mapping of setting names to scalar
// values. Each value's text is parsed like a flag's, so YAML's own typing
// (yes/no as booleans, 010 as octal) never applies.
func (s *Set) loadFile(path string) []error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", s.file.Origin(), err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return []error{fmt.Errorf("config file %s: %w", path, err)}
	}
	if len(doc.Content) == 0 {
		return nil // empty file, or only comments
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return []error{fmt.Errorf("config file %s line %d: want a mapping of setting names to values", path, root.Line)}
	}
	var errs []error
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		where := fmt.Sprintf("config file %s line %d", path, key.Line)
		st := s.byName[key.Value]
		switch {
		case key.Kind != yaml.ScalarNode:
			errs = append(errs, fmt.Errorf("%s: a key must be a setting name", where))
			continue
		case st == nil:
			errs = append(errs, fmt.Errorf("%s: unknown setting %q%s", where, key.Value, s.suggest(key.Value)))
			continue
		case st.noFile:
			errs = append(errs, fmt.Errorf("%s: %q cannot be set in a config file", where, key.Value))
			continue
		case seen[key.Value] != 0:
			errs = append(errs, fmt.Errorf("%s: %q is already set on line %d", where, key.Value, seen[key.Value]))
			continue
		case val.Kind != yaml.ScalarNode:
			errs = append(errs, fmt.Errorf("%s: %q must be a single value (write a list as comma-separated text)", where, key.Value))
			continue
		case val.Tag == "!!null":
			errs = append(errs, fmt.Errorf("%s: %q has no value", where, key.Value))
			continue
		}
		seen[key.Value] = key.Line
		errs = append(errs, st.apply(val.Value, FromFile, fmt.Sprintf("file %s line %d", path, key.Line)))
	}
	return errs
}

// suggest names a declared setting close to an unknown key.
func (s *Set) suggest(key string) string {
	norm := func(n string) string { return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(n)) }
	for _, st := range s.settings {
		if norm(st.Name) == norm(key) {
			return fmt.Sprintf(" (did you mean %q?)", st.Name)
		}
	}
	return ""
}

// unknownEnv lists prefixed variables that name no setting.
func (s *Set) unknownEnv() []string {
	known := map[string]bool{}
	for _, st := range s.settings {
		known[st.Env] = true
	}
	var out []string
	for _, kv := range s.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, s.EnvPrefix) && !known[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

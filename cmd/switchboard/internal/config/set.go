package config

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
)

// ErrHelp is returned by Parse when the arguments ask for help; the help
// text has been written to Set.Stdout.
var ErrHelp = flag.ErrHelp

// Source is where a setting's value came from.
type Source uint8

// Sources, lowest precedence first.
const (
	FromDefault Source = iota
	FromFile
	FromEnv
	FromFlag
)

func (s Source) String() string {
	return [...]string{"default", "file", "env", "flag"}[s]
}

// Set is one command's settings.
type Set struct {
	// Command names the command in help and errors ("switchboard serve").
	Command string
	// Summary is printed under the usage line of the help text.
	Summary string
	// EnvPrefix starts every environment variable name ("SWITCHBOARD_").
	EnvPrefix string
	// LookupEnv and Environ read the environment; tests replace them.
	// Defaults os.LookupEnv and os.Environ.
	LookupEnv func(string) (string, bool)
	Environ   func() []string
	// Stdout receives the help text. Default os.Stdout.
	Stdout io.Writer

	settings []*Setting
	byName   map[string]*Setting
	group    string
	file     *Setting // the config-file setting, if declared
	args     []string
	unknown  []string
	parsed   bool
}

// NewSet returns an empty Set for command whose variables start with
// envPrefix.
func NewSet(command, envPrefix string) *Set {
	return &Set{Command: command, EnvPrefix: envPrefix, LookupEnv: os.LookupEnv, Environ: os.Environ,
		Stdout: os.Stdout, byName: map[string]*Setting{}}
}

// Group starts a section of the help text and reference page: settings
// declared after it belong to it.
func (s *Set) Group(title string) { s.group = title }

// Setting is one declared setting.
type Setting struct {
	// Name is the flag name and the file key, e.g. "max-conns".
	Name string
	// Env is the environment variable, e.g. "SWITCHBOARD_MAX_CONNS".
	Env string
	// Usage is the one-line description.
	Usage string
	// Type is the value's kind as help shows it: string, int, duration...
	Type string
	// Default is the default value's text.
	Default string
	// Group is the section it was declared in.
	Group string

	value    flag.Value
	isBool   bool
	sign     func() int // for numeric kinds: -1, 0 or +1
	want     string     // what a valid value looks like, for parse errors
	rules    []func() error
	secret   bool
	noFlag   bool
	noFile   bool
	source   Source
	origin   string // "flag --x", "env X", "file PATH line N"
	failed   bool   // a value did not parse; its rules are not run
	flagText *string
}

// Source is where the setting's value came from (after Parse).
func (st *Setting) Source() Source { return st.source }

// Origin names the setting and its source for messages, e.g.
// "--workers (env SWITCHBOARD_WORKERS)".
func (st *Setting) Origin() string {
	origin := st.origin
	if origin == "" {
		origin = "default"
	}
	return st.label() + " (" + origin + ")"
}

func (st *Setting) label() string {
	if st.noFlag {
		return st.Name
	}
	return "--" + st.Name
}

// Value is the current value's text ("(secret)" for a set secret).
func (st *Setting) Value() string {
	if st.secret && st.value.String() != "" {
		return "(secret)"
	}
	return st.value.String()
}

// NonNegative rejects values below zero.
func (st *Setting) NonNegative() *Setting {
	st.mustBeNumeric()
	return st.rule(func() error {
		if st.sign() < 0 {
			return fmt.Errorf("must not be negative, got %s", st.value)
		}
		return nil
	})
}

// Positive rejects zero and values below it.
func (st *Setting) Positive() *Setting {
	st.mustBeNumeric()
	return st.rule(func() error {
		if st.sign() <= 0 {
			return fmt.Errorf("must be positive, got %s", st.value)
		}
		return nil
	})
}

// OneOf rejects values other than those listed.
func (st *Setting) OneOf(values ...string) *Setting {
	st.Usage += " (" + strings.Join(values, ", ") + ")"
	return st.rule(func() error {
		v := st.value.String()
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s, got %q", strings.Join(values, ", "), v)
	})
}

// Check adds a rule: fn reads the bound variable and returns what is wrong
// with it; Parse reports the error with the setting's name and source.
func (st *Setting) Check(fn func() error) *Setting { return st.rule(fn) }

// Secret keeps the value out of help, logs and errors.
func (st *Setting) Secret() *Setting { st.secret = true; return st }

// NoFlag makes the setting readable only from the environment and the file
// (a secret on a command line shows in every process listing).
func (st *Setting) NoFlag() *Setting { st.noFlag = true; return st }

func (st *Setting) mustBeNumeric() {
	if st.sign == nil {
		panic(fmt.Sprintf("config: %s is a %s, not a number", st.Name, st.Type))
	}
}

func (st *Setting) rule(fn func() error) *Setting {
	st.rules = append(st.rules, fn)
	return st
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// add registers a setting whose typed value is v. It panics on a bad or
// duplicate name: that is a bug in the declarations, found by any test.
func (s *Set) add(name, usage, typ, want string, v flag.Value, sign func() int) *Setting {
	if !validName.MatchString(name) {
		panic(fmt.Sprintf("config: setting name %q is not lower-case words joined by dashes", name))
	}
	if s.byName[name] != nil {
		panic(fmt.Sprintf("config: setting %q declared twice", name))
	}
	st := &Setting{Name: name, Env: s.EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_")),
		Usage: usage, Type: typ, Default: v.String(), Group: s.group, value: v, sign: sign, want: want}
	if b, ok := v.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		st.isBool = true
	}
	s.settings = append(s.settings, st)
	s.byName[name] = st
	return st
}

// typed returns the flag package's own Value for a variable: declaring it
// on a scratch FlagSet reuses the standard parsers and formatting.
func typed(declare func(fs *flag.FlagSet)) flag.Value {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	declare(fs)
	var v flag.Value
	fs.VisitAll(func(f *flag.Flag) { v = f.Value })
	return v
}

func signOf[T int | int64 | uint | float64 | time.Duration](p *T) func() int {
	return func() int {
		switch {
		case *p < 0:
			return -1
		case *p > 0:
			return 1
		}
		return 0
	}
}

// StringVar declares a string setting bound to p, with default value.
func (s *Set) StringVar(p *string, name, value, usage string) *Setting {
	return s.add(name, usage, "string", "text", typed(func(fs *flag.FlagSet) { fs.StringVar(p, "v", value, "") }), nil)
}

// IntVar declares an int setting.
func (s *Set) IntVar(p *int, name string, value int, usage string) *Setting {
	return s.add(name, usage, "int", "an integer",
		typed(func(fs *flag.FlagSet) { fs.IntVar(p, "v", value, "") }), signOf(p))
}

// Int64Var declares an int64 setting.
func (s *Set) Int64Var(p *int64, name string, value int64, usage string) *Setting {
	return s.add(name, usage, "int", "an integer",
		typed(func(fs *flag.FlagSet) { fs.Int64Var(p, "v", value, "") }), signOf(p))
}

// UintVar declares a uint setting.
func (s *Set) UintVar(p *uint, name string, value uint, usage string) *Setting {
	return s.add(name, usage, "uint", "a non-negative integer",
		typed(func(fs *flag.FlagSet) { fs.UintVar(p, "v", value, "") }), signOf(p))
}

// Float64Var declares a float64 setting.
func (s *Set) Float64Var(p *float64, name string, value float64, usage string) *Setting {
	return s.add(name, usage, "float", "a number",
		typed(func(fs *flag.FlagSet) { fs.Float64Var(p, "v", value, "") }), signOf(p))
}

// DurationVar declares a time.Duration setting ("300ms", "1m30s").
func (s *Set) DurationVar(p *time.Duration, name string, value time.Duration, usage string) *Setting {
	return s.add(name, usage, "duration", `a duration such as "250ms", "30s" or "1m30s"`,
		typed(func(fs *flag.FlagSet) { fs.DurationVar(p, "v", value, "") }), signOf(p))
}

// BoolVar declares a bool setting; as a flag, --name alone means true.
func (s *Set) BoolVar(p *bool, name string, value bool, usage string) *Setting {
	return s.add(name, usage, "bool", "true or false",
		typed(func(fs *flag.FlagSet) { fs.BoolVar(p, "v", value, "") }), nil)
}

// Var declares a setting of a custom type; its current value is the
// default. typ names the type in help ("list", "bytes").
func (s *Set) Var(v flag.Value, name, typ, usage string) *Setting {
	return s.add(name, usage, typ, "a valid "+typ, v, nil)
}

// String, Int, Int64, Float64, Duration and Bool declare a setting and
// return a pointer to its variable, like their flag.FlagSet namesakes.
func (s *Set) String(name, value, usage string) *string {
	return newVar(func(p *string) { s.StringVar(p, name, value, usage) })
}

// Int is like IntVar with a new variable.
func (s *Set) Int(name string, value int, usage string) *int {
	return newVar(func(p *int) { s.IntVar(p, name, value, usage) })
}

// Int64 is like Int64Var with a new variable.
func (s *Set) Int64(name string, value int64, usage string) *int64 {
	return newVar(func(p *int64) { s.Int64Var(p, name, value, usage) })
}

// Float64 is like Float64Var with a new variable.
func (s *Set) Float64(name string, value float64, usage string) *float64 {
	return newVar(func(p *float64) { s.Float64Var(p, name, value, usage) })
}

// Duration is like DurationVar with a new variable.
func (s *Set) Duration(name string, value time.Duration, usage string) *time.Duration {
	return newVar(func(p *time.Duration) { s.DurationVar(p, name, value, usage) })
}

// Bool is like BoolVar with a new variable.
func (s *Set) Bool(name string, value bool, usage string) *bool {
	return newVar(func(p *bool) { s.BoolVar(p, name, value, usage) })
}

func newVar[T any](declare func(p *T)) *T {
	p := new(T)
	declare(p)
	return p
}

// ConfigFile declares the setting that names the YAML file (a flag and an
// environment variable; a file cannot name another). Empty means no file.
func (s *Set) ConfigFile(name, usage string) *Setting {
	var path string
	st := s.StringVar(&path, name, "", usage)
	st.noFile = true
	s.file = st
	return st
}

// Lookup returns the setting called name, or nil.
func (s *Set) Lookup(name string) *Setting { return s.byName[name] }

// Settings returns every setting in declaration order.
func (s *Set) Settings() []*Setting { return s.settings }

// Args returns the arguments left after the flags.
func (s *Set) Args() []string { return s.args }

// NArg is len(Args()).
func (s *Set) NArg() int { return len(s.args) }

// UnknownEnv lists variables with the prefix that name no setting (after
// Parse), for the caller to warn about: usually a typo.
func (s *Set) UnknownEnv() []string { return s.unknown }

// Errorf is an error about setting name that says where its value came
// from, for checks a caller makes after Parse (opening a file it names).
func (s *Set) Errorf(name, format string, args ...any) error {
	st := s.byName[name]
	if st == nil {
		panic(fmt.Sprintf("config: Errorf for undeclared setting %q", name))
	}
	return fmt.Errorf("%s: %s", st.Origin(), fmt.Sprintf(format, args...))
}

// Changed lists the settings not at their default, as "name=value
// (source)", for a start-up log line; secrets show as "(secret)".
func (s *Set) Changed() []string {
	var out []string
	for _, st := range s.settings {
		if st.source != FromDefault {
			out = append(out, fmt.Sprintf("%s=%s (%s)", st.Name, st.Value(), st.origin))
		}
	}
	return out
}

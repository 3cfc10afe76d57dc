package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testSet declares a few settings of each kind over env, a fake
// environment.
type testVals struct {
	addr    string
	workers int
	ping    time.Duration
	echo    bool
	rate    float64
	budget  int64
	auth    string
	secret  string
}

func newTestSet(env map[string]string) (*Set, *testVals) {
	v := &testVals{}
	s := NewSet("switchboard serve", "SWITCHBOARD_")
	s.LookupEnv = func(k string) (string, bool) { x, ok := env[k]; return x, ok }
	s.Environ = func() []string {
		var out []string
		for k, x := range env {
			out = append(out, k+"="+x)
		}
		return out
	}
	s.Stdout = &strings.Builder{}
	s.ConfigFile("config", "YAML file of settings")
	s.Group("Listener")
	s.StringVar(&v.addr, "addr", "127.0.0.1:8080", "public listen address")
	s.IntVar(&v.workers, "workers", 0, "worker goroutines (0: 2 per CPU)").NonNegative()
	s.DurationVar(&v.ping, "ping-interval", 30*time.Second, "silence before a ping").Positive()
	s.BoolVar(&v.echo, "echo", false, "serve /echo")
	s.Group("Chat")
	s.Float64Var(&v.rate, "rate", 20, "messages per second").NonNegative()
	s.Int64Var(&v.budget, "outbound-budget", 4<<20, "bytes | queued").Check(func() error {
		if v.budget%2 != 0 {
			return errors.New("must be even")
		}
		return nil
	})
	s.StringVar(&v.auth, "auth", "jwt", "authentication").OneOf("jwt", "none")
	s.StringVar(&v.secret, "jwt-secret", "", "HS256 secret").Secret().NoFlag()
	return s, v
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedenceFlagEnvFileDefault(t *testing.T) {
	file := writeFile(t, "# every layer sets workers; file and env set ping\n"+
		"workers: 2\nping-interval: 1m\nrate: 5\necho: true\njwt-secret: from-file\n")
	env := map[string]string{"SWITCHBOARD_CONFIG": file, "SWITCHBOARD_WORKERS": "3",
		"SWITCHBOARD_PING_INTERVAL": "45s", "SWITCHBOARD_JWT_SECRET": "from-env"}
	s, v := newTestSet(env)
	if err := s.Parse([]string{"--workers", "4", "--echo=false", "rest"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		got    any
		want   any
		source Source
	}{
		{"addr", v.addr, "127.0.0.1:8080", FromDefault},
		{"workers", v.workers, 4, FromFlag},
		{"ping-interval", v.ping, 45 * time.Second, FromEnv},
		{"rate", v.rate, 5.0, FromFile},
		{"echo", v.echo, false, FromFlag},
		{"jwt-secret", v.secret, "from-env", FromEnv},
		{"config", s.Lookup("config").value.String(), file, FromEnv},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
		if got := s.Lookup(c.name).Source(); got != c.source {
			t.Errorf("%s came from %v, want %v", c.name, got, c.source)
		}
	}
	if got := s.Args(); len(got) != 1 || got[0] != "rest" {
		t.Errorf("Args = %q", got)
	}
	changed := strings.Join(s.Changed(), "\n")
	if strings.Contains(changed, "from-env") || !strings.Contains(changed, "jwt-secret=(secret) (env SWITCHBOARD_JWT_SECRET)") {
		t.Errorf("Changed leaks or misses the secret:\n%s", changed)
	}
	if !strings.Contains(changed, "workers=4 (flag --workers)") {
		t.Errorf("Changed lacks the workers flag:\n%s", changed)
	}
}

func TestConfigFlagBeatsConfigEnv(t *testing.T) {
	fromFlag := writeFile(t, "workers: 7\n")
	s, v := newTestSet(map[string]string{"SWITCHBOARD_CONFIG": "/nonexistent.yaml"})
	if err := s.Parse([]string{"--config", fromFlag}); err != nil {
		t.Fatal(err)
	}
	if v.workers != 7 {
		t.Fatalf("workers = %d, want 7 from the --config file", v.workers)
	}
}

func TestErrorsNameSettingAndSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		file string
		want []string // every one must appear
	}{
		{name: "negative flag", args: []string{"--workers", "-3"},
			want: []string{"--workers (flag --workers): must not be negative, got -3"}},
		{name: "negative env", env: map[string]string{"SWITCHBOARD_WORKERS": "-3"},
			want: []string{"--workers (env SWITCHBOARD_WORKERS): must not be negative, got -3"}},
		{name: "negative file", file: "\n\nworkers: -3\n",
			want: []string{"--workers (file ", "line 3): must not be negative, got -3"}},
		{name: "bad duration", env: map[string]string{"SWITCHBOARD_PING_INTERVAL": "soon"},
			want: []string{`--ping-interval (env SWITCHBOARD_PING_INTERVAL): invalid value "soon": want a duration`}},
		{name: "zero duration", args: []string{"--ping-interval=0s"},
			want: []string{"--ping-interval (flag --ping-interval): must be positive, got 0s"}},
		{name: "bad bool in file is not YAML's yes", file: "echo: yes\n",
			want: []string{`--echo (file `, `line 1): invalid value "yes": want true or false`}},
		{name: "one of", args: []string{"--auth", "ldap"},
			want: []string{`--auth (flag --auth): must be one of jwt, none, got "ldap"`}},
		{name: "custom check", args: []string{"--outbound-budget", "3"},
			want: []string{"--outbound-budget (flag --outbound-budget): must be even"}},
		{name: "secret not echoed", file: "jwt-secret: [a]\n", want: []string{`"jwt-secret" must be a single value`}},
		{name: "unknown key", file: "workers: 1\nping_interval: 3s\nfrobnicate: 1\n",
			want: []string{`line 2: unknown setting "ping_interval" (did you mean "ping-interval"?)`,
				`line 3: unknown setting "frobnicate"`}},
		{name: "duplicate key", file: "workers: 1\nworkers: 2\n", want: []string{"workers"}},
		{name: "null value", file: "workers:\n", want: []string{`line 1: "workers" has no value`}},
		{name: "config in file", file: "config: other.yaml\n", want: []string{`"config" cannot be set in a config file`}},
		{name: "not a mapping", file: "- workers\n", want: []string{"line 1: want a mapping"}},
		{name: "bad yaml", file: "workers: [\n", want: []string{"config file"}},
		{name: "missing file", args: []string{"--config", "/nonexistent/switchboard.yaml"},
			want: []string{"--config (flag --config): open /nonexistent/switchboard.yaml"}},
		{name: "no flag for secrets", args: []string{"--jwt-secret", "x"},
			want: []string{"flag provided but not defined: -jwt-secret"}},
		{name: "unknown flag", args: []string{"--frobnicate"}, want: []string{"not defined: -frobnicate", "--help"}},
		{name: "all at once", args: []string{"--workers", "-1", "--auth", "x"},
			env:  map[string]string{"SWITCHBOARD_RATE": "-1"},
			want: []string{"--workers (flag", "--auth (flag", "--rate (env"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if env == nil {
				env = map[string]string{}
			}
			if tc.file != "" {
				env["SWITCHBOARD_CONFIG"] = writeFile(t, tc.file)
			}
			s, _ := newTestSet(env)
			err := s.Parse(tc.args)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestSecretValueNeverInErrors(t *testing.T) {
	s := NewSet("x", "X_")
	var n int
	s.IntVar(&n, "pin", 0, "a secret number").Secret()
	s.LookupEnv = func(string) (string, bool) { return "hunter2", true }
	s.Environ = func() []string { return nil }
	err := s.Parse(nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Parse error %v: want an error without the value", err)
	}
}

func TestUnknownEnvListed(t *testing.T) {
	s, _ := newTestSet(map[string]string{"SWITCHBOARD_WORKRES": "2", "SWITCHBOARD_WORKERS": "2", "OTHER": "1"})
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if got := s.UnknownEnv(); len(got) != 1 || got[0] != "SWITCHBOARD_WORKRES" {
		t.Fatalf("UnknownEnv = %q", got)
	}
}

func TestEmptyFileIsFine(t *testing.T) {
	s, v := newTestSet(map[string]string{"SWITCHBOARD_CONFIG": writeFile(t, "# nothing yet\n")})
	if err := s.Parse(nil); err != nil || v.workers != 0 {
		t.Fatalf("Parse = %v, workers %d", err, v.workers)
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	s, _ := newTestSet(nil)
	if err := s.Parse([]string{"--help"}); !errors.Is(err, ErrHelp) {
		t.Fatalf("Parse(--help) = %v, want ErrHelp", err)
	}
	help := s.Stdout.(*strings.Builder).String()
	for _, st := range s.Settings() {
		want := "--" + st.Name + " " + st.Type
		if st.noFlag {
			want = st.Name + " " + st.Type + " (environment or file only)"
		}
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
		if !strings.Contains(help, "default: "+st.shownDefault()+"   env: "+st.Env+"\n") {
			t.Errorf("help lacks %s's default and env", st.Name)
		}
	}
	for _, g := range []string{"\nListener:\n", "\nChat:\n", "--config"} {
		if !strings.Contains(help, g) {
			t.Errorf("help lacks %q:\n%s", g, help)
		}
	}
}

func TestReplaceGenerated(t *testing.T) {
	s, _ := newTestSet(nil)
	page := []byte("# Settings\n\nprose\n\n" + BeginGenerated + "\nstale\n" + EndGenerated + "\n\nmore prose\n")
	out, changed, err := s.ReplaceGenerated(page)
	if err != nil || !changed {
		t.Fatalf("ReplaceGenerated = %v, changed %v", err, changed)
	}
	text := string(out)
	for _, want := range []string{"prose\n\n" + BeginGenerated + "\n\n### Other\n", "\n### Listener\n", "| `--workers` | int | `0` | `SWITCHBOARD_WORKERS` |",
		"| `jwt-secret` (no flag) |", `bytes \| queued`, "\n" + EndGenerated + "\n\nmore prose\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "stale") {
		t.Error("stale block kept")
	}
	if _, changed, _ := s.ReplaceGenerated(out); changed {
		t.Error("a second pass changed the page")
	}
	if _, _, err := s.ReplaceGenerated([]byte("no markers")); err == nil {
		t.Error("a page without markers was accepted")
	}
}

func TestDeclarationBugsPanic(t *testing.T) {
	for name, declare := range map[string]func(s *Set){
		"bad name":        func(s *Set) { s.Int("Max_Conns", 0, "") },
		"twice":           func(s *Set) { s.Int("a", 0, ""); s.Int("a", 0, "") },
		"string positive": func(s *Set) { var x string; s.StringVar(&x, "a", "", "").Positive() },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			declare(NewSet("x", "X_"))
		})
	}
}

func TestPointerFormsLikeFlagSet(t *testing.T) {
	s := NewSet("x", "X_")
	s.LookupEnv = func(k string) (string, bool) { return map[string]string{"X_D": "2s"}[k], k == "X_D" }
	s.Environ = func() []string { return nil }
	str, n, n64, f, d, b := s.String("s", "a", ""), s.Int("n", 1, ""), s.Int64("n64", 2, ""),
		s.Float64("f", 0.5, ""), s.Duration("d", time.Second, ""), s.Bool("b", false, "")
	if *str != "a" || *n != 1 || *n64 != 2 || *f != 0.5 || *d != time.Second || *b {
		t.Fatal("defaults not set before Parse")
	}
	if err := s.Parse([]string{"--s", "z", "--n", "0x10", "--b"}); err != nil {
		t.Fatal(err)
	}
	if *str != "z" || *n != 16 || *d != 2*time.Second || !*b {
		t.Fatalf("after Parse: %q %d %v %v", *str, *n, *d, *b)
	}
}

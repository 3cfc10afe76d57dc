// Package config declares a command's settings once and reads each of them
// from three sources: command-line flags, the environment
// (PREFIX_NAME, dashes become underscores: --max-conns is
// SWITCHBOARD_MAX_CONNS) and an optional YAML file named by a config-file
// setting. Precedence is flag, then environment, then file, then the
// default written in the declaration.
//
// A setting is declared with the same call a flag.FlagSet takes
// (set.DurationVar(&cfg.PingInterval, "ping-interval", 30*time.Second,
// "usage")), so moving a plain flag into a Set changes nothing but the
// receiver. Optional rules chain on the returned *Setting (NonNegative,
// OneOf, Check), as do Secret (never printed) and NoFlag (environment and
// file only, for secrets that must not appear in a process listing).
//
// Parse reads all three sources, parses every value with the flag
// package's own parsers (so "30s", "0x10" and "true" mean the same thing in
// a flag, a variable and the file), then runs the rules. Every problem is
// reported at once, each naming the setting and where its value came from:
// "--workers (env SWITCHBOARD_WORKERS): must not be negative, got -3". A
// file key that names no setting is an error, with its line.
//
// The same declarations render the --help text (Help) and the reference
// page (Markdown), so neither can drift from the code.
//
// A Set is not safe for concurrent use; it is built, parsed and read by
// one goroutine at start-up.
package config

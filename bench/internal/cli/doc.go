// Package cli holds the argument handling the report commands share:
// `--in` lists that take shell-expanded globs, and glob expansion with
// duplicates removed. It has no state.
package cli

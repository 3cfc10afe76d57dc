package main

import (
	"errors"
	"fmt"
	"os"
)

// configDoc rewrites the generated settings block of a Markdown page
// (docs/configuration.md, through go generate) from the serve
// declarations. It is a hidden subcommand: a tool for this repository.
func configDoc(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: switchboard config-doc PATH.md")
	}
	page, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	fs, _ := serveSettings()
	out, changed, err := fs.ReplaceGenerated(page)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	if !changed {
		return nil
	}
	return os.WriteFile(args[0], out, 0o644)
}

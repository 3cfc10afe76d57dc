package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

func version(w io.Writer) error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("no build information in this binary")
	}
	fmt.Fprintf(w, "switchboard %s\n%s\n", info.Main.Version, info.GoVersion)
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH":
			fmt.Fprintf(w, "%s=%s\n", s.Key, s.Value)
		}
	}
	return nil
}

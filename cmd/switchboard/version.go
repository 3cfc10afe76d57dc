package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildInfo is what the binary knows about its own build.
type buildInfo struct {
	module, version, goVersion     string
	revision, time, modified, arch string
}

// readBuildInfo reads debug.ReadBuildInfo. VCS fields are "unknown" when
// the binary was built without them (-buildvcs=false, or outside a
// checkout).
func readBuildInfo() buildInfo {
	bi := buildInfo{module: "github.com/switchboard-chat/switchboard", version: "unknown", goVersion: runtime.Version(),
		revision: "unknown", time: "unknown", modified: "unknown", arch: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.module, bi.version, bi.goVersion = info.Main.Path, info.Main.Version, info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.revision = s.Value
		case "vcs.time":
			bi.time = s.Value
		case "vcs.modified":
			bi.modified = s.Value
		}
	}
	return bi
}

func version(w io.Writer) error {
	bi := readBuildInfo()
	_, err := fmt.Fprintf(w, "switchboard %s\nmodule:   %s\nrevision: %s\ntime:     %s\nmodified: %s\ngo:       %s\nplatform: %s\n",
		bi.version, bi.module, bi.revision, bi.time, bi.modified, bi.goVersion, bi.arch)
	return err
}

// Command switchboard is the switchboard server: `serve` runs it, `token`
// mints a development token, `version` prints build information. Logic
// lives in the packages; this file only wires flags to them.
package main

import (
	"fmt"
	"os"
)

const usage = `switchboard: a WebSocket connection engine and chat server

Usage:
  switchboard serve [flags]    run the server (switchboard serve --help lists every setting)
  switchboard token --user NAME [flags]
                               print a signed development token (switchboard token --help)
  switchboard preflight [--conns 1000000]
                               check this host's limits for a connection target
  switchboard version          print version and build information
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "token":
		err = token(os.Args[2:], os.Stdout, os.Stderr, os.Getenv)
	case "preflight":
		err = preflight(os.Args[2:], os.Stdout)
	case "version":
		err = version(os.Stdout)
	case "config-doc": // hidden: regenerates docs/configuration.md
		err = configDoc(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "switchboard: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

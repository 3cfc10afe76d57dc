package web

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/room"
)

//go:embed static
var static embed.FS

// Options configures Register. Zero values are the defaults written beside
// each field.
type Options struct {
	// Engine serves the pages. Required.
	Engine *engine.Engine
	// Chat gives the chat counters the dashboard shows (deliveries,
	// publish→ack latency); nil shows the engine's numbers only.
	Chat func() room.Stats
	// Auth tells the page what to ask for: "none" (a user name, sent as
	// ?user=, for --auth none) or "jwt" (a token, sent as the subprotocol
	// bearer.<token>). Default "jwt".
	Auth string
	// NoDashboard leaves /dashboard and /dashboard/stats unserved (404).
	// Default false: the dashboard is on.
	NoDashboard bool
	// Interval is how often the dashboard's numbers are sampled. Default 1s.
	Interval time.Duration
}

// Site is the registered web surface. Close stops the dashboard sampler.
type Site struct {
	sampler *sampler
}

// pagePaths maps embedded files to the paths they are served at; every
// other file in static/ is served at /<name>.
var pagePaths = map[string]string{"index.html": "/", "dashboard.html": "/dashboard"}

// Register serves the chat page, its assets and (unless NoDashboard) the
// dashboard on opts.Engine. Call it before Engine.Start; the dashboard
// sampler starts at once and runs until Close.
func Register(opts Options) (*Site, error) {
	if opts.Engine == nil {
		return nil, errors.New("web: Options.Engine is required")
	}
	switch opts.Auth {
	case "":
		opts.Auth = "jwt"
	case "jwt", "none":
	default:
		return nil, fmt.Errorf("web: Options.Auth must be jwt or none, got %q", opts.Auth)
	}
	if opts.Interval < 0 {
		return nil, fmt.Errorf("web: Options.Interval must not be negative, got %v", opts.Interval)
	}
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	entries, err := fs.ReadDir(static, "static")
	if err != nil {
		return nil, err
	}
	for _, ent := range entries {
		name := ent.Name()
		if !opts.NoDashboard || !strings.HasPrefix(name, "dashboard") {
			body, err := static.ReadFile("static/" + name)
			if err != nil {
				return nil, err
			}
			urlPath, ok := pagePaths[name]
			if !ok {
				urlPath = "/" + name
			}
			opts.Engine.HandleHTTP(urlPath, staticFile(contentType(name), body))
		}
	}
	config, _ := json.Marshal(map[string]any{"auth": opts.Auth, "dashboard": !opts.NoDashboard,
		"protocol": protocol.ChatVersion})
	opts.Engine.HandleHTTP("/config.json", staticFile("application/json", config))
	site := &Site{}
	if !opts.NoDashboard {
		site.sampler = newSampler(opts.Engine.Stats, opts.Chat, opts.Interval)
		site.sampler.tick(time.Now()) // something to serve before the first interval ends
		opts.Engine.HandleHTTP("/dashboard/stats", site.sampler.serve)
		go site.sampler.run()
	}
	return site, nil
}

// Close stops the dashboard sampler. Safe to call more than once.
func (s *Site) Close() {
	if s.sampler != nil {
		s.sampler.close()
	}
}

// securityHeaders keep the page to its own origin: scripts, styles and
// sockets from here only, no framing, no sniffing.
const securityHeaders = "X-Content-Type-Options: nosniff\r\n" +
	"Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'\r\n" +
	"Referrer-Policy: no-referrer"

// staticFile answers with body; no-cache makes a browser revalidate, which
// the ETag turns into a bodiless 304 until the binary changes.
func staticFile(contentType string, body []byte) engine.HTTPHandler {
	return engine.StaticHTTP(engine.HTTPResponse{ContentType: contentType, CacheControl: "no-cache",
		Header: securityHeaders, Body: body})
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}

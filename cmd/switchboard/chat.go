package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/switchboard-chat/switchboard/cmd/switchboard/internal/config"
	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/engine/auth"
	"github.com/switchboard-chat/switchboard/room"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/memory"
)

// chatFlags are the serve flags of the chat service at /ws.
type chatFlags struct {
	authMode       string
	secretFile     string
	publicKeyFile  string
	issuer         string
	audience       string
	storeKind      string
	maxMessages    int
	allowedOrigins string
	maxBodyBytes   int
	rate           float64
	secret         string

	set       *config.Set                            // for errors naming a setting and its source
	wrapStore func(store.Store) (store.Store, error) // instruments the store (serve sets it)
}

func (f *chatFlags) register(fs *config.Set) {
	f.set = fs
	fs.StringVar(&f.authMode, "auth", "jwt", "chat authentication; none is for development: the user name comes from ?user=, insecure").OneOf("jwt", "none")
	fs.StringVar(&f.secretFile, "jwt-secret-file", "", "file holding the HS256 secret (or jwt-secret)")
	fs.StringVar(&f.secret, "jwt-secret", "", "the HS256 secret itself, at least 32 bytes; never a flag, so it stays out of process listings").Secret().NoFlag()
	fs.StringVar(&f.publicKeyFile, "jwt-public-key-file", "", "PEM public key for RS256 or EdDSA tokens")
	fs.StringVar(&f.issuer, "jwt-issuer", "", "required iss claim (empty: not checked)")
	fs.StringVar(&f.audience, "jwt-audience", "", "required aud claim (empty: not checked)")
	fs.StringVar(&f.storeKind, "store", "memory", "chat store: memory")
	fs.IntVar(&f.maxMessages, "memory-max-messages", 10000, "messages each room keeps in the memory store").Positive()
	fs.StringVar(&f.allowedOrigins, "allowed-origins", "*", "comma-separated Origin values allowed to upgrade (*: any)")
	fs.IntVar(&f.maxBodyBytes, "max-body-bytes", 16<<10, "largest publish body").Positive()
	fs.Float64Var(&f.rate, "rate", 20, "messages per second per connection (burst twice that)").Positive()
}

// engineConfig applies the settings the engine enforces for chat clients.
func (f *chatFlags) engineConfig(cfg *engine.Config) error {
	// Browsers cannot set headers: they offer switchboard.v1 plus
	// bearer.<token> as subprotocols, and the server must select one.
	cfg.Subprotocols = []string{auth.Subprotocol}
	if f.allowedOrigins == "*" || f.allowedOrigins == "" {
		return nil
	}
	allowed := map[string]bool{}
	for _, o := range strings.Split(f.allowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			allowed[strings.ToLower(o)] = true
		}
	}
	cfg.CheckOrigin = func(origin []byte) bool {
		// Non-browser clients send no Origin; the token is what guards them.
		return len(origin) == 0 || allowed[strings.ToLower(string(origin))]
	}
	return nil
}

func (f *chatFlags) service(e *engine.Engine, log *slog.Logger) (*room.Service, error) {
	var st store.Store
	switch f.storeKind {
	case "memory":
		m, err := memory.New(memory.Options{MaxMessagesPerRoom: f.maxMessages})
		if err != nil {
			return nil, f.set.Errorf("memory-max-messages", "%v", err)
		}
		st = m
	default:
		return nil, f.set.Errorf("store", "must be memory (postgres comes with the durable scale-out work), got %q", f.storeKind)
	}
	if f.wrapStore != nil {
		var err error
		if st, err = f.wrapStore(st); err != nil {
			return nil, err
		}
	}
	cfg := room.Config{Store: st, Logger: log, RatePerSecond: f.rate, RateBurst: max(1, int(2*f.rate)),
		UserRatePerSecond: 2 * f.rate, UserRateBurst: max(1, int(4*f.rate))}
	cfg.Limits.MaxBodyBytes = f.maxBodyBytes
	switch f.authMode {
	case "none":
	case "jwt":
		v, err := f.verifier()
		if err != nil {
			return nil, err
		}
		cfg.Auth = v
	default:
		return nil, f.set.Errorf("auth", "must be jwt or none, got %q", f.authMode)
	}
	return room.New(e, cfg)
}

func (f *chatFlags) verifier() (*auth.Verifier, error) {
	acfg := auth.Config{Issuer: f.issuer, Audience: f.audience}
	switch {
	case f.publicKeyFile != "" && f.secretFile != "":
		return nil, errors.New("--jwt-secret-file and --jwt-public-key-file: give one, not both")
	case f.publicKeyFile != "":
		pem, err := os.ReadFile(f.publicKeyFile)
		if err != nil {
			return nil, f.set.Errorf("jwt-public-key-file", "%v", err)
		}
		acfg.PublicKeyPEM = pem
	case f.secretFile != "":
		secret, err := auth.ReadSecretFile(f.secretFile)
		if err != nil {
			return nil, f.set.Errorf("jwt-secret-file", "%v", err)
		}
		acfg.Secret = secret
	case f.secret != "":
		acfg.Secret = []byte(f.secret)
	default:
		return nil, errors.New("--auth jwt needs a key: --jwt-secret-file, --jwt-public-key-file or " +
			"SWITCHBOARD_JWT_SECRET (e.g. export SWITCHBOARD_JWT_SECRET=$(head -c 32 /dev/urandom | base64)); " +
			"or --auth none for development")
	}
	v, err := auth.NewVerifier(acfg)
	if err != nil {
		return nil, fmt.Errorf("--auth jwt: %w", err)
	}
	return v, nil
}

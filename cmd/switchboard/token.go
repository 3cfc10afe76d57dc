package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/switchboard-chat/switchboard/engine/auth"
)

// secretEnv names the environment variable holding the HS256 secret.
const secretEnv = "SWITCHBOARD_JWT_SECRET"

const noKeyHelp = `no signing key. Set an HS256 secret of at least 32 bytes:
  export ` + secretEnv + `=$(head -c 32 /dev/urandom | base64)
or pass --secret-file PATH, or --private-key-file PATH (PEM, RSA or Ed25519)`

// token mints a development token: the token alone goes to stdout, so that
// TOKEN=$(switchboard token --user alice) works; hints go to stderr.
func token(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "the user the token names (sub claim); required")
	name := fs.String("name", "", "display name (name claim)")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime of the token")
	secretFile := fs.String("secret-file", "", "file holding the HS256 secret (default: $"+secretEnv+")")
	keyFile := fs.String("private-key-file", "", "PEM private key (RSA: RS256, Ed25519: EdDSA) instead of a secret")
	issuer := fs.String("issuer", "", "iss claim (must match the server's issuer, if it checks one)")
	audience := fs.String("audience", "", "aud claim (must match the server's audience, if it checks one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("token: unexpected arguments %q", fs.Args())
	case *user == "":
		return errors.New("token: --user is required")
	case *ttl <= 0:
		return fmt.Errorf("token: --ttl must be positive, not %v", *ttl)
	}

	signer, err := newSigner(*secretFile, *keyFile, getenv(secretEnv), stderr)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	signer.Issuer, signer.Audience = *issuer, *audience
	minted, err := signer.Mint(*user, *name, *ttl)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if _, err := fmt.Fprintln(stdout, minted); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "switchboard token: %s token for %q, expires %s\n",
		signer.Algorithm(), *user, time.Now().Add(*ttl).UTC().Format(time.RFC3339))
	return nil
}

// newSigner picks the key: a flag beats the environment.
func newSigner(secretFile, keyFile, envSecret string, stderr io.Writer) (*auth.Signer, error) {
	switch {
	case secretFile != "" && keyFile != "":
		return nil, errors.New("pass only one of --secret-file and --private-key-file")
	case keyFile != "":
		pem, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, err
		}
		if envSecret != "" {
			fmt.Fprintf(stderr, "switchboard token: using --private-key-file; $%s is ignored\n", secretEnv)
		}
		return auth.NewSignerPEM(pem)
	case secretFile != "":
		secret, err := auth.ReadSecretFile(secretFile)
		if err != nil {
			return nil, err
		}
		return auth.NewSigner(secret)
	case envSecret != "":
		return auth.NewSigner([]byte(envSecret))
	}
	return nil, errors.New(noKeyHelp)
}

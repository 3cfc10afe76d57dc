package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/switchboard-chat/switchboard/cmd/switchboard/internal/config"
	"github.com/switchboard-chat/switchboard/engine"
)

// Admission limits: what a server facing the internet needs against one
// address opening too much, and against running out of memory. The per-IP
// defaults leave room for a NAT (an office, a mobile carrier) putting many
// users behind one address; loopback is exempt because a reverse proxy on
// the same host makes every client share its address.
const (
	defaultMaxConnsPerIP       = 1000
	defaultHandshakeRatePerIP  = 50
	defaultHandshakeBurstPerIP = 500
	defaultIPLimitExempt       = "127.0.0.0/8,::1/128"
)

// registerLimitFlags declares the admission settings for cfg. The values
// are checked by engine.New; the prefix list by its own parser.
func registerLimitFlags(fs *config.Set, cfg *engine.Config) {
	cfg.IPLimitExempt = mustPrefixes(defaultIPLimitExempt)
	fs.Var((*byteSize)(&cfg.MaxMemory), "max-memory", "bytes",
		"Go memory budget (e.g. 2GiB); at 90% of it new clients get 503 with Retry-After (0: no budget)")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", defaultMaxConnsPerIP,
		"sockets one client address (IPv6: /64) may hold; over it 429 with Retry-After (0: no cap)").NonNegative()
	fs.Float64Var(&cfg.HandshakeRatePerIP, "handshake-rate-per-ip", defaultHandshakeRatePerIP,
		"new connections per second per client address; over it 429 with Retry-After (0: no limit)").NonNegative()
	fs.IntVar(&cfg.HandshakeBurstPerIP, "handshake-burst-per-ip", defaultHandshakeBurstPerIP,
		"new connections one address may open at once before --handshake-rate-per-ip applies").NonNegative()
	fs.Var((*prefixList)(&cfg.IPLimitExempt), "ip-limit-exempt", "list",
		"comma-separated prefixes the per-IP limits skip, e.g. your reverse proxy (empty: none)")
}

func mustPrefixes(s string) []netip.Prefix {
	var p []netip.Prefix
	if err := (*prefixList)(&p).Set(s); err != nil {
		panic(err)
	}
	return p
}

// prefixList is a comma-separated list of CIDR prefixes (a bare address is
// its own /32 or /128).
type prefixList []netip.Prefix

func (l *prefixList) String() string {
	parts := make([]string, len(*l))
	for i, p := range *l {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

func (l *prefixList) Set(s string) error {
	var out []netip.Prefix
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return fmt.Errorf("%q is not a prefix or address", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	*l = out
	return nil
}

// byteSize is a byte count with an optional binary suffix: 512MiB, 2GiB,
// 2G (the same), 1048576.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	num, unit := splitUnit(strings.TrimSpace(s))
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/unit {
		return fmt.Errorf("%q is not a size such as 512MiB or 2GiB", s)
	}
	*b = byteSize(n * unit)
	return nil
}

// splitUnit splits a size into its number and the multiplier its suffix
// (K, M, G, T, each optionally followed by B or iB; or a bare B) means.
func splitUnit(s string) (string, int64) {
	upper := strings.ToUpper(s)
	for i, prefix := range []string{"K", "M", "G", "T"} {
		for _, form := range []string{prefix + "IB", prefix + "B", prefix} {
			if strings.HasSuffix(upper, form) {
				return s[:len(s)-len(form)], int64(1) << (10 * (i + 1))
			}
		}
	}
	return strings.TrimSuffix(upper, "B"), 1
}

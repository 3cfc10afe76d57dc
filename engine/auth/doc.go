// Package auth checks the JSON Web Token a client presents when it opens a
// WebSocket, and mints tokens for development. It owns token extraction from
// an upgrade request, signature and claim verification, and the mapping of
// every failure to a stable reason and a 401 answer. It knows nothing of
// rooms or connections; an engine.App calls Verifier.Authenticate from its
// Accept method and keeps the returned Claims with the connection (and hands
// Claims.Expires to Conn.SetExpiry).
//
// # Algorithms
//
// A Verifier accepts exactly one algorithm, fixed by its key: HS256 for
// Config.Secret, RS256 for an RSA public key, EdDSA for an Ed25519 public
// key. The token's "alg" header is never trusted to choose: "none", an HS256
// token checked against an RSA key (the classic confusion attack), or any
// other algorithm fails with ReasonBadAlgorithm before a key is used.
//
// # Where the token comes from
//
// TokenFromRequest looks in three places, in this order, and uses the first
// that holds a non-empty token:
//
//  1. The Authorization header: "Bearer <token>" (scheme in any case).
//
//  2. The Sec-WebSocket-Protocol header, for browsers, which cannot set
//     headers on a WebSocket. The client offers two subprotocols, the
//     application protocol and the token prefixed with "bearer.":
//
//     new WebSocket(url, ["switchboard.v1", "bearer." + token])
//
//     which sends "Sec-WebSocket-Protocol: switchboard.v1, bearer.<token>".
//     The token is taken only when "switchboard.v1" (Subprotocol) is offered
//     too, and only from the first Sec-WebSocket-Protocol header line. The
//     server selects "switchboard.v1" and never the "bearer." value, so the
//     token is not echoed in the 101 response: list Subprotocol, and nothing
//     starting with "bearer.", in the engine's HandshakeConfig.Protocols.
//     (A browser fails the connection when it offered subprotocols and the
//     server selected none.) JWTs are base64url segments joined by dots, all
//     of which are legal in a subprotocol token.
//
//  3. The query parameter "token" (?token=<token>), percent-decoded as a
//     form value ("%XX" escapes, "+" is a space). The first "token"
//     parameter counts. A value with a malformed escape is returned as it is,
//     so that Verify reports it as malformed rather than missing. Query
//     strings end up in access logs: prefer the other two.
//
// # Concurrency
//
// A Verifier is immutable once NewVerifier returns and is safe for
// concurrent use; one Verifier serves every event loop. A Signer is safe for
// concurrent use once its exported fields are set. TokenFromRequest is a pure
// function.
//
// # Buffers
//
// Nothing from a request is retained. The token returned by TokenFromRequest
// may alias the request's buffer (it is a fresh slice only when
// percent-decoding was needed), so it is valid only while the request is.
// Verify does not keep its argument: the strings in Claims are copies.
//
// # Cost
//
// Authenticate runs once per handshake on the event loop. Extracting the
// token does not allocate unless the query value needs decoding. Verifying
// costs a few dozen small allocations (JSON decoding inside golang-jwt) and
// the signature check; RS256 and EdDSA verification cost several times
// HS256. BenchmarkVerifyHS256, BenchmarkVerifyRS256 and BenchmarkVerifyEdDSA
// measure them; budget for them when many clients connect at once.
package auth

package proxyfront

import "net/http"

// Identity is who an HTTP request authenticated as.
type Identity struct {
	// User is the user's name; "default" for the proxy's one password
	// (Redis's name for the user requirepass protects).
	User string
}

// Authenticator decides who an HTTP request is and what it may run. The
// HTTP entry asks it once per request: Authenticate with the request's
// credentials (HTTP basic user and password; a bearer token arrives as
// the password of user ""; no credentials at all as "", ""), then Allowed
// with the RESP command the request becomes, before anything is sent.
// Errors should be *AuthError, whose Msg is the RESP error the same client
// would get over RESP, so both entries word refusals alike.
//
// passwordAuth is today's implementation, over the proxy's password. A
// users-and-permissions package plugs in by implementing this interface
// (Authenticate: user and password or token → user; Allowed: the user's
// command and key rules over args) and being set with Proxy.SetAuthenticator
// between Listen and Serve (cmd/relcache/proxy.go), as
// TestHTTPAuthenticatorPlugs does with a reader that may not FOLLOW.
type Authenticator interface {
	Authenticate(user, pass string) (Identity, error)
	Allowed(id Identity, args [][]byte) error
}

// AuthError is a refused request: Status is 401 (who are you) or 403 (not
// allowed), Msg the RESP error's text (NOAUTH, WRONGPASS, NOPERM ...).
type AuthError struct {
	Status int
	Msg    string
}

func (e *AuthError) Error() string { return e.Msg }

// passwordAuth checks the proxy's password, read at each request so a
// reload that changes it applies at once. Any authenticated client may run
// every command the HTTP entry offers, as over RESP.
type passwordAuth struct{ p *Proxy }

const (
	msgNoAuth    = "NOAUTH Authentication required."
	msgWrongPass = "WRONGPASS invalid username-password pair or user is disabled."
)

func (a passwordAuth) Authenticate(user, pass string) (Identity, error) {
	pw := a.p.cfgNow().Password
	switch {
	case pw == "":
		return Identity{User: "default"}, nil
	case user == "" && pass == "":
		return Identity{}, &AuthError{Status: http.StatusUnauthorized, Msg: msgNoAuth}
	case (user != "" && user != "default") || !samePassword([]byte(pass), pw):
		return Identity{}, &AuthError{Status: http.StatusUnauthorized, Msg: msgWrongPass}
	}
	return Identity{User: "default"}, nil
}

func (passwordAuth) Allowed(Identity, [][]byte) error { return nil }

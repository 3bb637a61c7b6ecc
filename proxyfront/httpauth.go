package proxyfront

import (
	"net/http"

	"github.com/relcache/relcache/internal/acl"
)

// Identity is who an HTTP request authenticated as.
type Identity struct {
	// User is the user's name; "default" for the proxy's password (Redis's
	// name for the user requirepass protects).
	User string
	// handle is the proxy's user the request's command runs as: its
	// command and key rules are checked as for a RESP client of that user
	// (NOPERM, 403). nil for an Authenticator that is not the proxy's
	// users: the command then runs as the default user.
	handle *acl.Handle
}

// Authenticator decides who an HTTP request is and what it may run. The
// HTTP entry asks it once per request: Authenticate with the request's
// credentials (HTTP basic user and password; a bearer token arrives as
// the password of user ""; no credentials at all as "", ""), then Allowed
// with the RESP command the request becomes, before anything is sent.
// Errors should be *AuthError, whose Msg is the RESP error the same client
// would get over RESP, so both entries word refusals alike.
//
// usersAuth is the proxy's implementation, over its users (the users
// lines, the aclfile, and password as the default user's). Another
// implementation can be set with Proxy.SetAuthenticator between Listen and
// Serve, as TestHTTPAuthenticatorPlugs does with a reader that may not
// FOLLOW.
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

// usersAuth authenticates against the proxy's users, read at each request
// so a reload applies at once: HTTP basic (user and password; an empty
// user is "default"), or a bearer token as the default user's password.
// What the user may run is checked where a RESP client's command is, in
// the command's run (Allowed has nothing to add).
type usersAuth struct{ p *Proxy }

const (
	msgNoAuth    = "NOAUTH Authentication required."
	msgWrongPass = "WRONGPASS invalid username-password pair or user is disabled."
)

func (a usersAuth) Authenticate(user, pass string) (Identity, error) {
	users := a.p.users
	if user == "" && pass == "" {
		def := users.Default()
		if u := def.User(); u.NoPass() && u.Enabled() {
			return Identity{User: "default", handle: def}, nil
		}
		return Identity{}, &AuthError{Status: http.StatusUnauthorized, Msg: msgNoAuth}
	}
	if user == "" {
		user = "default"
	}
	h := users.Authenticate(user, []byte(pass))
	if h == nil {
		return Identity{}, &AuthError{Status: http.StatusUnauthorized, Msg: msgWrongPass}
	}
	return Identity{User: user, handle: h}, nil
}

func (usersAuth) Allowed(Identity, [][]byte) error { return nil }

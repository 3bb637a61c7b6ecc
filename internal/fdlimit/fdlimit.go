// Package fdlimit fits a process's client limit to the descriptors it may
// open, as Redis does at start (adjustOpenFilesLimit): it raises
// RLIMIT_NOFILE to what the clients and a reserve need, as far as the hard
// limit (or, with privilege, beyond it) allows, and when that is not
// enough says how many clients fit instead. Weibo's proxy reached the
// default limit in production and could only be fixed by restarting the
// cluster; a start that fits itself, and says so, avoids that.
//
// The package only computes and sets the limit; the caller logs.
package fdlimit

import "fmt"

// Reserve is what Redis keeps for its own files besides the clients
// (CONFIG_MIN_RESERVED_FDS: listeners, log, snapshot, the data directory
// lock); callers add what their backends need.
const Reserve = 32

// Result is what Fit found and did.
type Result struct {
	// Requested is the client limit asked for, Clients what fits (equal
	// unless the limit could not be raised far enough).
	Requested, Clients int
	// Needed is the descriptors Requested clients and the reserve take.
	Needed uint64
	// Was and Limit are the soft limit before and after. (Go's runtime
	// raises the soft limit to the hard one as the process starts, so
	// Was is usually the hard limit already.)
	Was, Limit uint64
	// Err is why the limit could not be raised to Needed, when it was not.
	Err error
}

// Reduced reports whether fewer clients fit than were asked for.
func (r Result) Reduced() bool { return r.Clients < r.Requested }

// Raised reports whether the limit was raised.
func (r Result) Raised() bool { return r.Limit > r.Was }

// TooFewError is returned when not even one client fits; its text is
// Redis's.
type TooFewError struct{ Limit, Needed uint64 }

func (e *TooFewError) Error() string {
	return fmt.Sprintf("Your current 'ulimit -n' of %d is not enough for the server to start. Please increase your open file limit to at least %d. Exiting.", e.Limit, e.Needed)
}

// Fit makes room for clients connections plus reserve descriptors,
// raising the open-files limit when it is lower, and returns how many
// clients fit.
func Fit(clients, reserve int) (Result, error) {
	r := Result{Requested: clients, Clients: clients, Needed: uint64(clients) + uint64(reserve)}
	cur, hard, err := getLimit()
	if err != nil {
		// Without a way to know (a platform without rlimits), trust the
		// setting as before.
		r.Err = err
		return r, nil
	}
	r.Was, r.Limit = cur, cur
	if cur >= r.Needed {
		return r, nil
	}
	// Redis asks for the limit as both soft and hard, so a privileged
	// process gets past its hard limit; else the hard limit is the most.
	if err := setLimit(r.Needed, max(r.Needed, hard)); err == nil {
		r.Limit = r.Needed
		return r, nil
	} else if hard > cur {
		r.Err = err
		if err2 := setLimit(hard, hard); err2 == nil {
			r.Limit = hard
		}
	} else {
		r.Err = err
	}
	if r.Limit <= uint64(reserve) {
		return r, &TooFewError{Limit: r.Limit, Needed: r.Needed}
	}
	r.Clients = int(r.Limit) - reserve
	return r, nil
}

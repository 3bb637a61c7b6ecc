//go:build !unix

package fdlimit

import "errors"

var errNoRlimit = errors.New("this platform has no RLIMIT_NOFILE")

func getLimit() (cur, hard uint64, err error) { return 0, 0, errNoRlimit }

func setLimit(cur, hard uint64) error { return errNoRlimit }

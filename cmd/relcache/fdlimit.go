package main

import (
	"strconv"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/fdlimit"
	"github.com/relcache/relcache/loader"
)

// fitClients raises the open-files limit for clients connections plus
// reserve descriptors and returns the fit; it logs what it got in Redis's
// words (a warning when clients had to be reduced).
func fitClients(clients, reserve int, log *zap.Logger) (fdlimit.Result, error) {
	r, err := fdlimit.Fit(clients, reserve)
	switch {
	case err != nil:
		return r, err
	case r.Reduced():
		log.Warn("You requested maxclients of "+itoa(r.Requested)+" requiring at least "+utoa(r.Needed)+" max file descriptors.",
			zap.Int("maxclients_requested", r.Requested), zap.Uint64("open_files_needed", r.Needed))
		log.Warn("Server can't set maximum open files to "+utoa(r.Needed)+" because of OS error: "+errText(r.Err)+".",
			zap.Uint64("open_files_limit", r.Limit))
		log.Warn("Current maximum open files is "+utoa(r.Limit)+". maxclients has been reduced to "+itoa(r.Clients)+
			" to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
			zap.Int("maxclients", r.Clients), zap.Uint64("open_files_limit", r.Limit))
	case r.Raised():
		log.Info("Increased maximum number of open files to "+utoa(r.Limit)+" (it was originally set to "+utoa(r.Was)+").",
			zap.Uint64("open_files_limit", r.Limit))
	default:
		log.Info("open files limit", zap.Uint64("open_files_limit", r.Limit), zap.Uint64("open_files_needed", r.Needed))
	}
	return r, nil
}

// descriptors is what the source of record may hold open besides the
// clients: each MySQL server's pool keeps up to 16 idle connections
// (loader/mysql.go) and a busy one more for a moment; SQLite's file, its
// journal and its connections' handles.
func (s sourceSettings) descriptors() int {
	switch loader.SourceKind(s.Source) {
	case loader.SourceMySQL:
		return 32 * len(s.SourceMySQL)
	case loader.SourceSQLite:
		return 16
	}
	return 0
}

func itoa(n int) string    { return utoa(uint64(n)) }
func utoa(n uint64) string { return strconv.FormatUint(n, 10) }

func errText(err error) string {
	if err == nil {
		return "unknown"
	}
	return err.Error()
}

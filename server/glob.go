package server

import "github.com/relcache/relcache/internal/glob"

// globMatch is Redis's glob matching; internal/glob owns it because ACL key
// patterns (internal/acl) match the same way.
func globMatch[T ~string | ~[]byte](p []byte, s T) bool { return glob.Match(p, s) }

package server

import (
	"sync/atomic"

	"github.com/relcache/relcache/store"
)

// keyHooks is the store's one Watcher, fanned out to the two features that
// listen to changes of keys: WATCH (watchRegistry) and client tracking
// (tracker). users counts watched (key, client) pairs plus tracking
// clients, both registries keeping it, so a server where neither is in use
// pays one atomic load per write, as before there were two.
type keyHooks struct {
	users   atomic.Int64
	watches *watchRegistry
	track   *tracker
}

// Active implements store.Watcher.
func (h *keyHooks) Active() bool { return h.users.Load() > 0 }

// Touched implements store.Watcher; it runs under the key's shard lock.
func (h *keyHooks) Touched(ch store.Change) {
	if h.watches.Active() {
		h.watches.Touched(ch.Key, ch.Removed)
	}
	if h.track.clients.Load() > 0 {
		h.track.touched(ch)
	}
}

// Flushed implements store.Watcher.
func (h *keyHooks) Flushed(origin int64) {
	if h.track.clients.Load() > 0 {
		h.track.flushed(origin)
	}
}

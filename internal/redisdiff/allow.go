package redisdiff

import (
	"slices"
	"strconv"
	"strings"

	"github.com/relcache/relcache/internal/resp"
)

// Difference is one entry of the allow-list: a reason, and which command
// and reply pairs it explains. Replies are the raw RESP bytes (after the
// sorting of unordered replies).
type Difference struct {
	Why   string
	Match func(cmd []string, redis, relcache string) bool
	// Lasting marks a difference after which the servers may hold
	// different state (Redis switched database, relcache did not): a
	// run stops comparing there, though it runs the rest of its steps
	// so that settings a program restores are restored.
	Lasting bool
}

// Allowed is the allow-list: where relcache answers differently from Redis
// 7.0 on purpose (docs/commands.md, "Differences from Redis"), plus the one
// comparison that must tolerate time passing. Each entry must be narrow
// enough that it cannot hide a wrong answer, and must not excuse a reply
// whose difference changes what later commands see, or the fuzzer drifts
// into noise (the generator keeps away from the ones that would).
var Allowed = []Difference{
	{"one database: SELECT 1 to 15 is out of range", func(cmd []string, redis, relcache string) bool {
		return isCmd(cmd, "SELECT") && redis == "+OK\r\n" && relcache == "-ERR DB index is out of range\r\n"
	}, true},
	{"relation sets (a hash in Redis) answer whole-value reads as a string would: their bytes, or a string's error", func(cmd []string, redis, relcache string) bool {
		return strings.HasPrefix(redis, "-WRONGTYPE") &&
			slices.ContainsFunc([]string{"GET", "GETEX", "GETRANGE", "STRLEN"}, func(c string) bool { return isCmd(cmd, c) })
	}, true}, // GETEX's options apply in relcache
	{"relation sets' encoding is openhash (a hash's is listpack or hashtable in Redis)", func(cmd []string, redis, relcache string) bool {
		return isCmd(cmd, "OBJECT", "ENCODING") && relcache == "$8\r\nopenhash\r\n" &&
			(redis == "$8\r\nlistpack\r\n" || redis == "$9\r\nhashtable\r\n")
	}, false},
	{"one database: COPY to DB 1 to 15 is out of range (where Redis goes on to copy, or to the next option)", func(cmd []string, redis, relcache string) bool {
		if !isCmd(cmd, "COPY") || relcache != "-ERR DB index is out of range\r\n" {
			return false
		}
		for i := 3; i+1 < len(cmd); i++ {
			if n, err := strconv.Atoi(cmd[i+1]); strings.EqualFold(cmd[i], "DB") && err == nil && n >= 1 && n <= 15 {
				return true
			}
		}
		return false
	}, true},
	{"maxmemory: sizes past 2^63-1 bytes, empty or a bare unit are refused (Redis wraps them or reads 0)", func(cmd []string, redis, relcache string) bool {
		return isCmd(cmd, "CONFIG", "SET", "maxmemory") && redis == "+OK\r\n" &&
			strings.HasSuffix(relcache, " - argument must be a memory value\r\n")
	}, true},
	{"maxmemory-policy: relcache has four of Redis's eight policies, and its refusal lists those", func(cmd []string, redis, relcache string) bool {
		const prefix = "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
		return isCmd(cmd, "CONFIG", "SET") && strings.HasPrefix(redis, prefix) && strings.HasPrefix(relcache, prefix)
	}, false},
	{"SLOWLOG entries hold each server's own timings and clients", func(cmd []string, redis, relcache string) bool {
		return isCmd(cmd, "SLOWLOG", "GET") && redis[0] == '*' && relcache[0] == '*'
	}, false},
	{"CLIENT LIST lines carry relcache's own fields", func(cmd []string, redis, relcache string) bool {
		return isCmd(cmd, "CLIENT", "LIST") && redis[0] == '$' && relcache[0] == '$'
	}, false},
	{"HELLO gives each server's version (7.2.0 for relcache) and client id; the other fields are the same", func(cmd []string, redis, relcache string) bool {
		return isCmd(cmd, "HELLO") && sameHello(redis, relcache)
	}, false},
	{"TTL and PTTL are read at slightly different instants: equal within 2 s (2000 ms)", func(cmd []string, redis, relcache string) bool {
		limit := int64(2)
		if isCmd(cmd, "PTTL") {
			limit = 2000
		} else if !isCmd(cmd, "TTL") {
			return false
		}
		w, okw := resp.Int([]byte(redis))
		g, okg := resp.Int([]byte(relcache))
		return okw && okg && w >= 0 && g >= 0 && max(w-g, g-w) <= limit
	}, false},
}

// sameHello reports whether two HELLO replies are the same map but for the
// values of version and id.
func sameHello(a, b string) bool {
	va, _, erra := resp.Decode([]byte(a))
	vb, _, errb := resp.Decode([]byte(b))
	if erra != nil || errb != nil || !strings.ContainsRune("*%", rune(va.Type)) || va.Type != vb.Type ||
		len(va.Elems) != len(vb.Elems) {
		return false
	}
	for i := 0; i+1 < len(va.Elems); i += 2 {
		k := string(va.Elems[i].Str)
		if k != string(vb.Elems[i].Str) {
			return false
		}
		if k != "version" && k != "id" && string(va.Elems[i+1].Append(nil)) != string(vb.Elems[i+1].Append(nil)) {
			return false
		}
	}
	return true
}

// excuse returns the entry of allow that explains the pair, or nil.
func excuse(allow []Difference, cmd []string, redis, relcache []byte) *Difference {
	if len(redis) == 0 || len(relcache) == 0 {
		return nil
	}
	for i, d := range allow {
		if d.Match(cmd, string(redis), string(relcache)) {
			return &allow[i]
		}
	}
	return nil
}

// unordered reports whether cmd's reply lists things in an order Redis
// leaves unspecified (hash table order: COMMAND LIST and CONFIG GET too),
// so replies are compared sorted.
func unordered(cmd []string) bool {
	if isCmd(cmd, "COMMAND", "LIST") || isCmd(cmd, "CONFIG", "GET") {
		return true
	}
	for _, c := range []string{"KEYS", "SCAN", "HKEYS", "HVALS", "HGETALL", "SMEMBERS"} {
		if isCmd(cmd, c) {
			return true
		}
	}
	return false
}

// normalized is v's bytes, with the elements of an unordered reply sorted:
// SCAN's keys (its second element), HGETALL's and CONFIG GET's name-value
// pairs, the elements of the others.
func normalized(cmd []string, v resp.Value) []byte {
	if !unordered(cmd) || v.Null || !strings.ContainsRune("*~%", rune(v.Type)) {
		return v.Append(nil)
	}
	if isCmd(cmd, "SCAN") {
		if len(v.Elems) == 2 && v.Elems[1].Type == '*' {
			v.Elems = []resp.Value{v.Elems[0], sorted(v.Elems[1], 1)}
		}
		return v.Append(nil)
	}
	group := 1
	if isCmd(cmd, "HGETALL") || isCmd(cmd, "CONFIG", "GET") {
		group = 2
	}
	return sorted(v, group).Append(nil)
}

// sorted returns v with its elements sorted in groups of n by their bytes.
func sorted(v resp.Value, n int) resp.Value {
	if len(v.Elems)%n != 0 {
		return v
	}
	groups := make([][]resp.Value, 0, len(v.Elems)/n)
	for i := 0; i < len(v.Elems); i += n {
		groups = append(groups, v.Elems[i:i+n])
	}
	key := func(g []resp.Value) string {
		var b []byte
		for _, e := range g {
			b = e.Append(b)
		}
		return string(b)
	}
	slices.SortStableFunc(groups, func(a, b []resp.Value) int { return strings.Compare(key(a), key(b)) })
	v.Elems = slices.Concat(groups...)
	return v
}

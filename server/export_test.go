package server

// NoopParam is one Redis parameter that means nothing to relcache
// (config_noop.go), for the differential tests in package server_test.
type NoopParam struct {
	Name, Default string
	Numeric       bool // an integer or a size, not yes/no or a choice
	Redis72       bool // Redis 7.0 lacks it
}

func NoopConfig() []NoopParam {
	var out []NoopParam
	for _, p := range noopParams {
		for _, n := range p.names {
			out = append(out, NoopParam{Name: n, Default: p.def, Numeric: p.kind == noopInt || p.kind == noopMemory,
				Redis72: n == "set-max-listpack-entries" || n == "set-max-listpack-value"})
		}
	}
	return out
}

package server

// rel-set-format at run time: the server keeps the current SetFormat in
// s.setFormat, and every writer that builds a set asks for it at the build,
// so CONFIG SET changes what is built from then on and nothing already
// stored (both formats are read by every command).

// setVersion is the openhash.Options.Version the sets built now are written
// in.
func (s *Server) setVersion() int { return s.relSetFormat().Version() }

func (s *Server) relSetFormat() SetFormat { return SetFormat(s.setFormat.Load()) }

// setFormatParam is CONFIG GET/SET rel-set-format. As Redis's enum
// settings, CONFIG SET folds case and refuses another word in Redis's
// words.
var setFormatParam = configParam{
	name: "rel-set-format",
	get:  func(s *Server) string { return s.relSetFormat().String() },
	set: func(s *Server, v string) (func(), error) {
		for _, f := range []SetFormat{FormatFast, FormatCompact} {
			if cEqFold([]byte(v), f.String()) {
				return func() { s.setFormat.Store(uint32(f)) }, nil
			}
		}
		return nil, configError("argument(s) must be one of the following: fast, compact")
	},
}

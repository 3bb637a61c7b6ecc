package main

import "fmt"

// logFormat is how the log is encoded: the log-format setting of serve and
// proxy.
type logFormat uint8

const (
	// logAuto is console on a terminal, JSON otherwise.
	logAuto logFormat = iota
	logConsole
	logJSON
)

func (f logFormat) String() string {
	switch f {
	case logAuto:
		return "auto"
	case logConsole:
		return "console"
	case logJSON:
		return "json"
	}
	return fmt.Sprintf("logFormat(%d)", uint8(f))
}

// parseLogFormat reads log-format's value, exactly (no case folding, as
// before it was typed).
func parseLogFormat(s string) (logFormat, error) {
	for _, f := range []logFormat{logAuto, logConsole, logJSON} {
		if s == f.String() {
			return f, nil
		}
	}
	return 0, fmt.Errorf("want auto, console or json, got %q", s)
}

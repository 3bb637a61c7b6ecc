//go:build !amd64 || purego

package openhash

// useBatchAsm is false: there is no assembly kernel here (batch_amd64.go).
var useBatchAsm = false

// batchAsm reports false: Go's kernel (batchW) runs.
func (s *Set) batchAsm(out []bool, uids []uint64) bool { return false }

// batchAsmQ reports false: Go's kernel (batchQ) runs.
func (s *Set) batchAsmQ(out []bool, uids []uint64) bool { return false }

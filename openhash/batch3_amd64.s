//go:build amd64 && !purego

#include "textflag.h"
#include "batch_amd64.h"

// The version-3 batch probe: batch_amd64.s's kernel with version 3's
// placement (kernel3.go's batchQ: the permutation, the first group and
// the quotient t from one multiply-shift, the second group from t's
// fraction, wrapped without a branch) and its slot compare (the slot
// word's low rb bits against want in the first group, want|1 in the
// second). Version 3's candidates are the control bytes equal to the tag
// exactly, which the vector compare gives, so there is no borrow guard; a
// uid with three or more candidates is left to Go (the function returns
// its index).
//
// Registers: R8 base, SI uids end, DI out end, CX index from -n to 0, R9 rb
// (BZHI's bit count); R10 the shifts r and tsh, reloaded per uid; AX BX DX
// R11-R15 and X0-X2 per uid; X8 0x80 in every byte.

#define KERNEL3(W, GB, CW, CW2, M8W) \
	MOVQ base+0(FP), R8; \
	MOVQ out+8(FP), DI; \
	MOVQ uids+16(FP), SI; \
	MOVQ n+24(FP), CX; \
	MOVQ rb+104(FP), R9; \
	MOVQ CX, ret+112(FP); \
	TESTQ CX, CX; \
	JEQ done; \
	MOVQ $0x8080808080808080, AX; \
	VMOVQ AX, X8; \
	VPBROADCASTQ X8, X8; \
	LEAQ (SI)(CX*8), SI; \
	ADDQ CX, DI; \
	NEGQ CX; \
loop: \
	MOVQ (SI)(CX*8), R12; \
	MOVQ r+80(FP), R10; \
	MOVQ R12, AX; \
	XORQ seed+32(FP), AX; \
	IMULQ k1+40(FP), AX; \
	SHRXQ R10, AX, BX; \
	ANDQ hmask+48(FP), BX; \
	XORQ BX, AX; \
	IMULQ k2+56(FP), AX; \
	SHRXQ R10, AX, BX; \
	ANDQ hmask+48(FP), BX; \
	XORQ BX, AX; \
	MOVQ AX, DX; \
	MULXQ ng+64(FP), AX, BX; \
	MOVQ tsh+88(FP), R10; \
	SHRXQ R10, AX, DX; \
	VMOVQ DX, X0; \
	ANDQ fmask+72(FP), AX; \
	SHRQ $6, DX; \
	ANDQ $-2, DX; \
	ANDQ notumask+96(FP), R12; \
	ORQ DX, R12; \
	MOVQ AX, DX; \
	MOVQ ng+64(FP), R11; \
	LEAQ -1(R11), R13; \
	MULXQ R13, AX, AX; \
	LEAQ 1(BX)(AX*1), AX; \
	MOVQ AX, DX; \
	SUBQ R11, DX; \
	CMOVQCC DX, AX; \
	CANDIDATES(GB, CW, CW2, M8W); \
	IMULQ $W, R13; \
	MOVQ AX, DX; \
	LEAQ 1(R12), R11; \
	CMPQ R13, $(8*W); \
	CMOVQCS BX, DX; \
	SBBQ $0, R11; \
	BZHIQ R9, (DX)(R13*1), DX; \
	CMPQ DX, R11; \
	SETEQ R13B; \
	IMULQ $W, R14; \
	LEAQ 1(R12), R11; \
	CMPQ R14, $(8*W); \
	CMOVQCS BX, AX; \
	SBBQ $0, R11; \
	BZHIQ R9, (AX)(R14*1), AX; \
	CMPQ AX, R11; \
	SETEQ R14B; \
	NEXT(ret+112)

// func batchV3wN(base unsafe.Pointer, out *bool, uids *uint64, n int, seed, k1, hmask, k2, ng, fmask, r, tsh, notumask, rb uint64) int
TEXT ·batchV3w1(SB), NOSPLIT, $0-120
	KERNEL3(1, 16, 8, 16, -8)

TEXT ·batchV3w2(SB), NOSPLIT, $0-120
	KERNEL3(2, 24, 16, 32, -16)

TEXT ·batchV3w3(SB), NOSPLIT, $0-120
	KERNEL3(3, 32, 24, 48, -24)

TEXT ·batchV3w4(SB), NOSPLIT, $0-120
	KERNEL3(4, 40, 32, 64, -32)

TEXT ·batchV3w5(SB), NOSPLIT, $0-120
	KERNEL3(5, 48, 40, 80, -40)

TEXT ·batchV3w6(SB), NOSPLIT, $0-120
	KERNEL3(6, 56, 48, 96, -48)

TEXT ·batchV3w7(SB), NOSPLIT, $0-120
	KERNEL3(7, 64, 56, 112, -56)

TEXT ·batchV3w8(SB), NOSPLIT, $0-120
	KERNEL3(8, 72, 64, 128, -64)

//go:build linux && !mips && !mipsle && !mips64 && !mips64le

package discovery

// soReusePort is SO_REUSEPORT in the asm-generic socket.h most Linux
// architectures use; the syscall package exports it only on some.
const soReusePort = 0xf

//go:build linux

package vector

import (
	"syscall"
	"unsafe"
)

// hugePageSize is the size of an x86-64 (and arm64 4K-granule) huge page.
const hugePageSize = 2 << 20

// adviseHuge asks the kernel to back the whole huge pages inside s with
// huge pages (madvise MADV_HUGEPAGE; Linux's default transparent huge
// page setting only does so for memory so marked). A search touches
// vectors all over a gigabyte, so with 4 KiB pages nearly every vector
// costs a TLB miss and a page walk; with 2 MiB pages the page tables stay
// in cache. Call it before s is first written, so that the pages are huge
// from their first fault. Errors are ignored: it is only advice.
func adviseHuge[T any](s []T) {
	if len(s) == 0 {
		return
	}
	var zero T
	p := unsafe.Pointer(unsafe.SliceData(s))
	start := uintptr(p)
	end := start + uintptr(len(s))*unsafe.Sizeof(zero)
	first := (start + hugePageSize - 1) &^ (hugePageSize - 1)
	end &^= hugePageSize - 1
	if end <= first {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, first-start)), end-first)
	syscall.Madvise(b, 14) // MADV_HUGEPAGE
}

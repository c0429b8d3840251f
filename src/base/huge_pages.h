// A heap on huge pages for orch's own programs (orch-sim, the benchmarks). Internal.
//
// glibc grows the heap in 4 KiB pages, and the first touch of each costs a page fault:
// a large simulation or benchmark touches gigabytes, and on virtual machines a fault is
// dear. With transparent huge pages in "madvise" mode (the common default), glibc's
// tunable glibc.malloc.hugetlb=1 asks for 2 MiB pages instead. A tunable is read only
// when a process starts, so the program sets it and executes itself again, once.
// docs/guides/embedding.md says how a host process gets the same.
#ifndef ORCH_SRC_BASE_HUGE_PAGES_H_
#define ORCH_SRC_BASE_HUGE_PAGES_H_

namespace orch::internal {

// Call first thing in main (or from a static initializer: the arguments are read from
// /proc/self/cmdline). Does nothing when GLIBC_TUNABLES is already set (the user chose;
// GLIBC_TUNABLES=glibc.malloc.hugetlb=0 turns huge pages off), when transparent huge
// pages are not in madvise mode, or off Linux. Returns only when it did nothing: a
// failed exec leaves the process as it was.
void ReexecWithHugePageHeap();

}  // namespace orch::internal

#endif  // ORCH_SRC_BASE_HUGE_PAGES_H_

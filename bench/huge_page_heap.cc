// Every benchmark program runs on a huge-page heap, as orch-sim does
// (src/base/huge_pages.h): before main, the program executes itself again with
// glibc.malloc.hugetlb=1 unless GLIBC_TUNABLES is set. Run a benchmark with
// GLIBC_TUNABLES=glibc.malloc.hugetlb=0 to see the figures on 4 KiB pages.
#include "base/huge_pages.h"

namespace {

[[maybe_unused]] const bool kOnHugePages = (orch::internal::ReexecWithHugePageHeap(), true);

}  // namespace

#include "base/huge_pages.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace orch::internal {
namespace {

constexpr char kTunable[] = "glibc.malloc.hugetlb=1";

// The kernel lists the modes with the chosen one in brackets: "always [madvise] never".
bool HugePagesOnRequest() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(in, modes);
  return modes.find("[madvise]") != std::string::npos;
}

}  // namespace

void ReexecWithHugePageHeap() {
#ifdef __linux__
  if (std::getenv("GLIBC_TUNABLES") != nullptr || !HugePagesOnRequest()) return;
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (cmdline.empty()) return;
  // NUL-separated, NUL-terminated arguments.
  std::vector<char*> argv;
  for (size_t start = 0; start < cmdline.size();) {
    argv.push_back(cmdline.data() + start);
    start = cmdline.find('\0', start);
    if (start == std::string::npos) return;  // unterminated: not what the kernel writes
    ++start;
  }
  argv.push_back(nullptr);
  if (setenv("GLIBC_TUNABLES", kTunable, /*overwrite=*/0) != 0) return;
  execv("/proc/self/exe", argv.data());
  unsetenv("GLIBC_TUNABLES");  // the exec failed: carry on as before
#endif
}

}  // namespace orch::internal

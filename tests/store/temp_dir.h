// A fresh directory per test, for durable stores and their logs.
#ifndef ORCH_TESTS_STORE_TEMP_DIR_H_
#define ORCH_TESTS_STORE_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace orch::store::testing {

// Creates a new, empty directory under `base` and removes it, with everything in it, when
// destroyed.
class TempDir {
 public:
  explicit TempDir(const std::string& base = std::filesystem::temp_directory_path().string()) {
    std::string pattern = base + "/orch-store-test-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }

  // Empty if the directory could not be created.
  const std::string& path() const { return path_; }
  std::string Sub(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// A tmpfs (/dev/shm) when the machine has one, else the system's temp directory. fsync
// costs nothing on tmpfs: for tests of a durable store's logic rather than of the disk.
inline std::string FastTempBase() {
  std::error_code error;
  if (std::filesystem::is_directory("/dev/shm", error)) return "/dev/shm";
  return std::filesystem::temp_directory_path().string();
}

}  // namespace orch::store::testing

#endif  // ORCH_TESTS_STORE_TEMP_DIR_H_

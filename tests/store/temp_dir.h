// A fresh directory per test, for durable stores and their logs.
#ifndef ORCH_TESTS_STORE_TEMP_DIR_H_
#define ORCH_TESTS_STORE_TEMP_DIR_H_

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

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

// Whole-file reads and writes and directory listings, for tests that inspect or damage
// what a durable store left on disk.
inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Paths of the entries of `dir` whose names start with `prefix`, sorted.
inline std::vector<std::string> FilesWithPrefix(const std::string& dir, std::string_view prefix) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace orch::store::testing

#endif  // ORCH_TESTS_STORE_TEMP_DIR_H_

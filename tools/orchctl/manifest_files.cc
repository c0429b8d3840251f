#include "manifest_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "fmt/format.h"

namespace orch::orchctl {
namespace {

namespace fs = std::filesystem;

bool IsManifestName(const fs::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

absl::StatusOr<std::string> ReadAll(std::istream& in, const std::string& source) {
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(fmt::format("reading {} failed", source));
  return buffer.str();
}

}  // namespace

absl::StatusOr<ManifestFile> ReadManifestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::UnavailableError(fmt::format("cannot open {}", path));
  absl::StatusOr<std::string> text = ReadAll(in, path);
  if (!text.ok()) return text.status();
  return ManifestFile{path, *std::move(text)};
}

absl::StatusOr<std::vector<ManifestFile>> ReadManifestFiles(const std::string& path,
                                                            std::istream& stdin_stream) {
  if (path == "-") {
    absl::StatusOr<std::string> text = ReadAll(stdin_stream, "<stdin>");
    if (!text.ok()) return text.status();
    return std::vector<ManifestFile>{{"<stdin>", *std::move(text)}};
  }
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) {
    return absl::NotFoundError(fmt::format("the path \"{}\" does not exist", path));
  }
  if (!fs::is_directory(status)) {
    absl::StatusOr<ManifestFile> file = ReadManifestFile(path);
    if (!file.ok()) return file.status();
    return std::vector<ManifestFile>{*std::move(file)};
  }
  std::vector<fs::path> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(path, error)) {
    if (entry.is_regular_file() && IsManifestName(entry.path())) names.push_back(entry.path());
  }
  if (error) return absl::UnavailableError(fmt::format("cannot list {}: {}", path, error.message()));
  if (names.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("no manifests (*.yaml, *.yml, *.json) in directory \"{}\"", path));
  }
  std::sort(names.begin(), names.end());
  std::vector<ManifestFile> files;
  for (const fs::path& name : names) {
    absl::StatusOr<ManifestFile> file = ReadManifestFile(name.string());
    if (!file.ok()) return file.status();
    files.push_back(*std::move(file));
  }
  return files;
}

}  // namespace orch::orchctl

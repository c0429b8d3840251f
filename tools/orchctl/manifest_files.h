// Reading the manifests named by `-f PATH` flags, as kubectl does: a file, a directory's
// *.yaml, *.yml and *.json files (sorted by name, not recursive), or "-" for stdin.
#ifndef ORCH_TOOLS_ORCHCTL_MANIFEST_FILES_H_
#define ORCH_TOOLS_ORCHCTL_MANIFEST_FILES_H_

#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace orch::orchctl {

struct ManifestFile {
  std::string source;  // the name errors use: the path, or "<stdin>"
  std::string text;
};

// One file (a manifest or a configuration). kUnavailable when it cannot be read.
absl::StatusOr<ManifestFile> ReadManifestFile(const std::string& path);

// The files behind one -f PATH, in order. kNotFound when PATH does not exist,
// kInvalidArgument for a directory without manifests, kUnavailable when reading fails.
absl::StatusOr<std::vector<ManifestFile>> ReadManifestFiles(const std::string& path,
                                                            std::istream& stdin_stream);

}  // namespace orch::orchctl

#endif  // ORCH_TOOLS_ORCHCTL_MANIFEST_FILES_H_

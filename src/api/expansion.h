// Kubernetes' $(VAR) expansion of container commands, args, env values and probe
// commands, shared by the node agent and the probes. Internal.
#ifndef ORCH_SRC_API_EXPANSION_H_
#define ORCH_SRC_API_EXPANSION_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace orch::api::internal {

// Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion: Expand with
// MappingFuncFor): "$(NAME)" becomes the value of NAME in `vars`, or stays as written when
// `vars` has no NAME; "$$" is a literal "$" (so "$$(NAME)" is "$(NAME)"); a "$" followed
// by anything else, a "$(" never closed, and a trailing "$" stay as written.
std::string ExpandVariables(std::string_view input,
                            const absl::flat_hash_map<std::string, std::string>& vars);

}  // namespace orch::api::internal

#endif  // ORCH_SRC_API_EXPANSION_H_

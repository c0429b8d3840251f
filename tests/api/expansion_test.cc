// Kubernetes' $(VAR) expansion (src/api/expansion.h), as container commands, args, env
// values and probe commands get it.
#include "api/expansion.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace orch::api::internal {
namespace {

TEST(ExpandVariablesTest, ExpandsAsKubernetesExpansionPackage) {
  const absl::flat_hash_map<std::string, std::string> vars = {
      {"A", "alpha"}, {"B", "$(A)"}, {"EMPTY", ""}};
  struct Case {
    std::string input;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"plain", "plain"},
      {"$(A)", "alpha"},
      {"x$(A)y$(A)", "xalphayalpha"},
      {"$(B)", "$(A)"},  // one pass: a value is not expanded again
      {"$(EMPTY)|", "|"},
      {"$(MISSING)", "$(MISSING)"},
      {"$$(A)", "$(A)"},
      {"$$$(A)", "$alpha"},
      {"$$$$(A)", "$$(A)"},
      {"$$", "$"},
      {"$", "$"},
      {"100$", "100$"},
      {"$A", "$A"},
      {"$(A", "$(A"},
      {"$(A$(A)", "$(A$(A)"},  // the name runs to the first ")"
      {"$()", "$()"},
      {"$(A)$", "alpha$"},
      {"a)b$(A))", "a)balpha)"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ExpandVariables(c.input, vars), c.want) << "input: " << c.input;
  }
}

}  // namespace
}  // namespace orch::api::internal

// DeterministicBytes and SameMessage: equality by encoding, whatever order maps were
// filled in.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "orch/api/encoding.h"
#include "orch/api/v1/core.pb.h"

namespace orch::api {
namespace {

v1::Pod PodWithLabels(const std::vector<std::pair<std::string, std::string>>& labels) {
  v1::Pod pod;
  pod.mutable_metadata()->set_name("web");
  for (const auto& [key, value] : labels) (*pod.mutable_metadata()->mutable_labels())[key] = value;
  return pod;
}

TEST(EncodingTest, MapOrderDoesNotMatter) {
  std::vector<std::pair<std::string, std::string>> labels;
  for (int i = 0; i < 50; ++i) labels.emplace_back("key-" + std::to_string(i), "v");
  const v1::Pod forward = PodWithLabels(labels);
  std::reverse(labels.begin(), labels.end());
  const v1::Pod backward = PodWithLabels(labels);
  EXPECT_EQ(DeterministicBytes(forward), DeterministicBytes(backward));
  EXPECT_TRUE(SameMessage(forward, backward));
  // The bytes are the message: they parse back to an equal one.
  v1::Pod parsed;
  ASSERT_TRUE(parsed.ParseFromString(DeterministicBytes(forward)));
  EXPECT_TRUE(SameMessage(parsed, forward));
}

TEST(EncodingTest, AnyDifferenceIsSeen) {
  const v1::Pod pod = PodWithLabels({{"app", "web"}});
  v1::Pod other_value = PodWithLabels({{"app", "db"}});
  EXPECT_FALSE(SameMessage(pod, other_value));
  v1::Pod same_size = PodWithLabels({{"app", "wex"}});  // equal sizes, different bytes
  EXPECT_FALSE(SameMessage(pod, same_size));
  v1::Pod extra = pod;
  extra.mutable_spec()->set_node_name("n1");
  EXPECT_FALSE(SameMessage(pod, extra));
  EXPECT_FALSE(SameMessage(v1::Pod(), v1::Node()));  // different types, both empty
  EXPECT_TRUE(SameMessage(v1::Pod(), v1::Pod()));
}

}  // namespace
}  // namespace orch::api

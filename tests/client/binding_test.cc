// SpliceBinding against the decode-bind-encode it stands for: on randomized pods, the
// spliced bytes are the deterministic encoding of ApplyBinding's pod, byte for byte.
#include "client/binding.h"

#include <random>
#include <string>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/encoding.h"
#include "orch/api/v1/core.pb.h"
#include "support/status_matchers.h"

namespace orch::client::internal {
namespace {

using ::orch::testing::IsOkAndHolds;
using ::orch::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'790'000'000;

// A pod with a random selection of fields on both sides of the ones binding changes.
api::v1::Pod RandomPod(std::mt19937_64& rng) {
  const auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  api::v1::Pod pod;
  if (chance(50)) {
    pod.set_api_version("v1");
    pod.set_kind("Pod");
  }
  auto& meta = *pod.mutable_metadata();
  meta.set_name(fmt::format("pod-{}", rng() % 1000));
  meta.set_namespace_("default");
  meta.set_uid(fmt::format("uid-{}", rng()));
  for (int i = 0, n = static_cast<int>(rng() % 4); i < n; ++i) {
    (*meta.mutable_labels())[fmt::format("k{}", rng() % 10)] = fmt::format("v{}", rng() % 10);
  }
  auto& spec = *pod.mutable_spec();
  if (chance(80)) {
    auto& container = *spec.add_containers();
    container.set_name("c");
    container.set_image("busybox");
    (*container.mutable_resources()->mutable_requests())["cpu"].set_value("100m");
  }
  if (chance(50)) spec.set_restart_policy("Always");
  if (chance(30)) spec.set_termination_grace_period_seconds(static_cast<int64_t>(rng() % 60));
  if (chance(30)) (*spec.mutable_node_selector())["zone"] = "a";
  if (chance(30)) spec.set_host_network(true);
  if (chance(50)) spec.set_scheduler_name("default-scheduler");
  if (chance(30)) spec.add_tolerations()->set_key("dedicated");
  if (chance(30)) spec.set_priority(static_cast<int32_t>(rng() % 1000) - 500);
  if (chance(20)) spec.mutable_os()->set_name("linux");
  if (chance(70)) {
    auto& status = *pod.mutable_status();
    if (chance(50)) status.set_phase("Pending");
    for (int i = 0, n = static_cast<int>(rng() % 4); i < n; ++i) {
      auto& condition = *status.add_conditions();
      condition.set_type(chance(50) ? "PodScheduled" : (chance(50) ? "Ready" : "Initialized"));
      condition.set_status(chance(50) ? "False" : (chance(50) ? "True" : ""));
      if (chance(50)) condition.set_reason("Unschedulable");
      if (chance(50)) condition.set_message("0/3 nodes are available");
      if (chance(30)) condition.mutable_last_probe_time()->set_seconds(12345);
      if (chance(50)) condition.mutable_last_transition_time()->set_seconds(23456);
      if (chance(10)) condition.mutable_last_transition_time();  // present, zero
    }
    if (chance(30)) status.set_nominated_node_name("node-3");
    if (chance(30)) status.set_qos_class("Burstable");
    if (chance(20)) status.mutable_start_time()->set_seconds(34567);
  }
  return pod;
}

TEST(SpliceBindingTest, GivesTheDeterministicEncodingOfTheBoundPod) {
  int with_condition = 0, true_already = 0;
  for (uint64_t seed = 1; seed <= 2000; ++seed) {
    std::mt19937_64 rng(seed);
    const api::v1::Pod pod = RandomPod(rng);
    const std::string stored = api::DeterministicBytes(pod);
    SplicedBinding spliced;
    ORCH_ASSERT_OK_AND_ASSIGN(bool in_order, SpliceBinding(stored, "node-42", kNow, &spliced));
    ASSERT_TRUE(in_order) << "seed " << seed;
    EXPECT_EQ(spliced.assigned_node(), "");
    EXPECT_THAT(spliced.StoredUid(), IsOkAndHolds(pod.metadata().uid()));
    api::v1::Pod bound = pod;
    ApplyBinding("node-42", kNow, &bound);
    const std::string expected = api::DeterministicBytes(bound);
    ASSERT_EQ(spliced.Bytes(), expected) << "seed " << seed << "\n" << pod.DebugString();
    EXPECT_TRUE(spliced.Equals(expected));
    std::string other = expected;
    other[rng() % other.size()] ^= 1;
    EXPECT_FALSE(spliced.Equals(other));
    EXPECT_FALSE(spliced.Equals(expected + "x"));
    for (const auto& c : pod.status().conditions()) {
      if (c.type() != "PodScheduled") continue;
      ++with_condition;
      if (c.status() == "True") ++true_already;
    }
  }
  // Not vacuous: pods with a PodScheduled condition, True or not, were among them.
  EXPECT_GT(with_condition, 300);
  EXPECT_GT(true_already, 50);
}

// Bytes damaged at random (as a store holding foreign bytes could give): the splice
// never crashes, and whatever it makes of bytes that still parse as a pod is that pod,
// bound, as the parser reads it.
TEST(SpliceBindingTest, DamagedBytesAreSplicedAsTheParserReadsThemOrLeftAlone) {
  int spliced_count = 0;
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937_64 rng(seed);
    std::string bytes = api::DeterministicBytes(RandomPod(rng));
    for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n && !bytes.empty(); ++i) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng() % 256);
    }
    SplicedBinding spliced;
    absl::StatusOr<bool> in_order = SpliceBinding(bytes, "node-1", kNow, &spliced);
    api::v1::Pod stored;
    if (!in_order.ok() || !*in_order || !spliced.assigned_node().empty() ||
        !stored.ParseFromString(bytes)) {
      continue;
    }
    api::v1::Pod bound;
    ASSERT_TRUE(bound.ParseFromString(spliced.Bytes())) << "seed " << seed;
    ASSERT_THAT(spliced.StoredUid(), IsOkAndHolds(stored.metadata().uid())) << "seed " << seed;
    ApplyBinding("node-1", kNow, &stored);
    ASSERT_EQ(api::DeterministicBytes(bound), api::DeterministicBytes(stored)) << "seed " << seed;
    ++spliced_count;
  }
  EXPECT_GT(spliced_count, 300);  // not vacuous
}

TEST(SpliceBindingTest, TheBoundPodReadsBackWithOnlyNodeNameAndTheConditionChanged) {
  api::v1::Pod pod;
  pod.mutable_metadata()->set_name("web");
  pod.mutable_spec()->add_containers()->set_name("c");
  auto& failed = *pod.mutable_status()->add_conditions();
  failed.set_type("PodScheduled");
  failed.set_status("False");
  failed.set_reason("Unschedulable");
  failed.set_message("0/1 nodes are available");
  failed.mutable_last_probe_time()->set_seconds(7);
  const std::string stored = api::DeterministicBytes(pod);
  SplicedBinding spliced;
  ORCH_ASSERT_OK_AND_ASSIGN(bool in_order, SpliceBinding(stored, "node-1", kNow, &spliced));
  ASSERT_TRUE(in_order);
  api::v1::Pod bound;
  ASSERT_TRUE(bound.ParseFromString(spliced.Bytes()));
  EXPECT_EQ(bound.spec().node_name(), "node-1");
  ASSERT_EQ(bound.status().conditions_size(), 1);
  const auto& condition = bound.status().conditions(0);
  EXPECT_EQ(condition.status(), "True");
  EXPECT_EQ(condition.reason(), "");
  EXPECT_EQ(condition.message(), "");
  EXPECT_EQ(condition.last_probe_time().seconds(), 7);
  EXPECT_EQ(condition.last_transition_time().seconds(), kNow);
  EXPECT_EQ(bound.metadata().name(), "web");
  EXPECT_EQ(bound.spec().containers(0).name(), "c");
}

TEST(SpliceBindingTest, AnAssignedPodIsReportedAndNotSpliced) {
  api::v1::Pod pod;
  pod.mutable_metadata()->set_uid("u1");
  pod.mutable_spec()->set_node_name("node-7");
  const std::string stored = api::DeterministicBytes(pod);  // the views below point into it
  SplicedBinding spliced;
  ORCH_ASSERT_OK_AND_ASSIGN(bool in_order, SpliceBinding(stored, "node-1", kNow, &spliced));
  ASSERT_TRUE(in_order);
  EXPECT_EQ(spliced.assigned_node(), "node-7");
  EXPECT_THAT(spliced.StoredUid(), IsOkAndHolds("u1"));
}

TEST(SpliceBindingTest, FieldsOutOfOrderAreLeftToTheDecodingPath) {
  api::v1::Pod pod;
  pod.mutable_metadata()->set_name("web");
  pod.mutable_spec()->set_restart_policy("Always");
  // A status (phase "") before the metadata: a valid encoding, not a deterministic one.
  const std::string out_of_order = std::string("\x2a\x02\x0a\x00", 4) + api::DeterministicBytes(pod);
  SplicedBinding spliced;
  EXPECT_THAT(SpliceBinding(out_of_order, "node-1", kNow, &spliced), IsOkAndHolds(false));
  // So is a message field given twice (a parser merges the two).
  const std::string twice = api::DeterministicBytes(pod) + std::string("\x22\x00", 2);
  SplicedBinding again;
  EXPECT_THAT(SpliceBinding(twice, "node-1", kNow, &again), IsOkAndHolds(false));
}

TEST(SpliceBindingTest, BytesThatAreNotAnEncodingAreDataLoss) {
  api::v1::Pod pod;
  pod.mutable_metadata()->set_name("web");
  pod.mutable_spec()->add_containers()->set_name("c");
  const std::string bytes = api::DeterministicBytes(pod);
  SplicedBinding a, b, c;
  EXPECT_THAT(SpliceBinding(bytes.substr(0, bytes.size() - 1), "node-1", kNow, &a),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("stored pod: ")));
  EXPECT_THAT(SpliceBinding(std::string("\x22\x05\xff\xff", 4), "node-1", kNow, &b),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("the pod is not a well-formed encoding")));
  EXPECT_THAT(SpliceBinding(std::string("\x22\x02\x0b\x00", 4), "node-1", kNow, &c),
              StatusIs(absl::StatusCode::kDataLoss,
                       "stored pod: spec is not a well-formed encoding (at byte 1 of 2)"));
}

}  // namespace
}  // namespace orch::client::internal

// Extenders in the Scheduler end to end: a MemoryStore, the typed client, shared informers
// and the scheduler on one virtual executor, with each extender a real HTTP server on
// 127.0.0.1 (http_test_server.h). What the extender answers must decide where pods go,
// what they are told, and who binds them. Place with an extender is at the end.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"
#include "orch/api/codec.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/scheduler/config.h"
#include "orch/scheduler/place.h"
#include "orch/scheduler/scheduler.h"
#include "support/http_test_server.h"
#include "scheduler/scheduler_fixture.h"
#include "scheduler/test_objects.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::google::protobuf::Value;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;
using ::orch::testing::ClosedPort;
using ::orch::testing::HttpRequest;
using ::orch::testing::HttpResponse;
using testing::MakeNode;
using testing::MakePod;
using ::orch::testing::HttpTestServer;

constexpr std::string_view kHeader =
    "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";

// What an extender was asked: the pod's name and, as nodeCacheCapable extenders are sent
// them, the node names.
struct ExtenderCall {
  std::string pod;
  std::vector<std::string> nodes;
};

ExtenderCall Parse(const HttpRequest& request) {
  Value args;
  EXPECT_THAT(api::DecodeMessage(request.body, "extender args", args), IsOk()) << request.body;
  const auto& fields = args.struct_value().fields();
  ExtenderCall call;
  if (auto pod = fields.find("Pod"); pod != fields.end()) {
    call.pod = pod->second.struct_value().fields().at("metadata").struct_value().fields().at(
        "name").string_value();
  }
  if (auto names = fields.find("NodeNames"); names != fields.end()) {
    for (const Value& name : names->second.list_value().values()) {
      call.nodes.push_back(name.string_value());
    }
  }
  return call;
}

std::string JsonReasons(const std::map<std::string, std::string>& reasons) {
  std::vector<std::string> members;
  for (const auto& [node, reason] : reasons) members.push_back(fmt::format(R"("{}":"{}")", node, reason));
  return fmt::format("{{{}}}", fmt::join(members, ","));
}

// A filtering extender that rules out `failed` and `unresolvable` nodes, with their reasons,
// and keeps every other node it is asked about.
HttpTestServer::Handler Rejecting(std::map<std::string, std::string> failed,
                              std::map<std::string, std::string> unresolvable = {}) {
  return [failed, unresolvable](const HttpRequest& request) {
    std::vector<std::string> kept;
    for (const std::string& node : Parse(request).nodes) {
      if (!failed.contains(node) && !unresolvable.contains(node)) {
        kept.push_back(fmt::format(R"("{}")", node));
      }
    }
    return HttpResponse{
        200, fmt::format(R"({{"NodeNames":[{}],"FailedNodes":{},"FailedAndUnresolvableNodes":{}}})",
                         fmt::join(kept, ","), JsonReasons(failed), JsonReasons(unresolvable))};
  };
}

// Each test starts the scheduler itself, once its extenders listen.
class SchedulerExtenderTest : public testing::SchedulerFixture {
 protected:
  void SetUp() override {}
  void Configure(SchedulerOptions& options) override {
    ORCH_ASSERT_OK_AND_ASSIGN(options.config,
                              LoadConfig(std::string(kHeader) + "extenders:\n" + extenders_,
                                         "sched.yaml", Registry::InTree()));
  }

  // Starts a scheduler whose configuration lists `extenders` (YAML, the list's items).
  void StartScheduler(const std::string& extenders) {
    extenders_ = extenders;
    SchedulerFixture::StartScheduler();
  }

  std::string NodeOf(const std::string& pod) { return Get(pod).spec().node_name(); }
  // The pod's PodScheduled condition, as "Status/Reason: message".
  std::string Scheduled(const std::string& pod) {
    const api::v1::Pod current = Get(pod);
    const api::v1::PodCondition* c = Condition(current, "PodScheduled");
    return c == nullptr ? "" : fmt::format("{}/{}: {}", c->status(), c->reason(), c->message());
  }

 private:
  std::string extenders_;
};

TEST_F(SchedulerExtenderTest, FilterRulesOutNodesAndThePodLandsOnWhatIsLeft) {
  HttpTestServer extender(Rejecting({{"node-a", "no gpu left"}, {"node-b", "no gpu left"}}));
  ASSERT_NO_FATAL_FAILURE(StartScheduler(fmt::format(
      "- urlPrefix: {}\n  filterVerb: filter\n  nodeCacheCapable: true\n", extender.url())));
  AddNode("node-a", "16");  // the plugins' favourite: the most room
  AddNode("node-b", "8");
  AddNode("node-c", "4");
  AddPod(MakePod("web").Req({{"cpu", "500m"}}));
  executor_.RunUntilIdle();

  EXPECT_EQ(NodeOf("web"), "node-c");
  const std::vector<HttpRequest> requests = extender.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/filter");
  const ExtenderCall call = Parse(requests[0]);
  EXPECT_EQ(call.pod, "web");
  EXPECT_THAT(call.nodes, ElementsAre("node-a", "node-b", "node-c"));
}

TEST_F(SchedulerExtenderTest, FilterReasonsAreCountedInTheFitError) {
  HttpTestServer extender(Rejecting({{"node-a", "no gpu left"}}, {{"node-b", "rack is down"}}));
  ASSERT_NO_FATAL_FAILURE(StartScheduler(fmt::format(
      "- urlPrefix: {}\n  filterVerb: filter\n  nodeCacheCapable: true\n", extender.url())));
  AddNode("node-a", "4");
  AddNode("node-b", "4");
  AddNode("node-c", "1");  // too small: the Filter plugins rule it out, the extender never sees it
  AddPod(MakePod("big").Req({{"cpu", "2"}}));
  executor_.RunUntilIdle();

  EXPECT_EQ(NodeOf("big"), "");
  const std::string fit_error =
      "0/3 nodes are available: 1 Insufficient cpu, 1 no gpu left, 1 rack is down.";
  EXPECT_THAT(Scheduled("big"), StartsWith("False/Unschedulable: " + fit_error));
  EXPECT_THAT(EventsFor("big", "FailedScheduling"), ElementsAre(StartsWith(fit_error)));
  ASSERT_EQ(extender.requests().size(), 1u);
  EXPECT_THAT(Parse(extender.requests()[0]).nodes, ElementsAre("node-a", "node-b"));
  EXPECT_EQ(scheduler_->stats().unschedulable, 1);
}

TEST_F(SchedulerExtenderTest, PrioritizeTimesWeightOutweighsThePlugins) {
  // node-b scores 10 for the pods named "steered*", every node 0 for the others.
  HttpTestServer extender([](const HttpRequest& request) {
    const ExtenderCall call = Parse(request);
    std::vector<std::string> scores;
    for (const std::string& node : call.nodes) {
      const bool favoured = node == "node-b" && call.pod.starts_with("steered");
      scores.push_back(fmt::format(R"({{"Host":"{}","Score":{}}})", node, favoured ? 10 : 0));
    }
    return HttpResponse{200, fmt::format("[{}]", fmt::join(scores, ","))};
  });
  ASSERT_NO_FATAL_FAILURE(StartScheduler(
      fmt::format("- urlPrefix: {}\n  prioritizeVerb: prioritize\n  weight: 5\n"
                  "  nodeCacheCapable: true\n",
                  extender.url())));
  AddNode("node-a", "16");
  AddNode("node-b", "2");
  AddPod(MakePod("free").Req({{"cpu", "500m"}}));
  executor_.RunUntilIdle();
  // Zero from the extender: the plugins choose the node with the most room.
  EXPECT_EQ(NodeOf("free"), "node-a");

  // 10 × 5 × (100 / 10) = 500 more for node-b: more than the plugins can tell them apart by.
  AddPod(MakePod("steered").Req({{"cpu", "500m"}}));
  executor_.RunUntilIdle();
  EXPECT_EQ(NodeOf("steered"), "node-b");
  ASSERT_EQ(extender.requests().size(), 2u);
  EXPECT_EQ(extender.requests()[1].path, "/prioritize");
}

TEST_F(SchedulerExtenderTest, BindingExtenderBindsInsteadOfDefaultBinder) {
  HttpTestServer extender([](const HttpRequest&) { return HttpResponse{200, "{}"}; });
  ASSERT_NO_FATAL_FAILURE(StartScheduler(
      fmt::format("- urlPrefix: {}\n  bindVerb: bind\n", extender.url())));
  AddNode("node-a", "4");
  AddPod(MakePod("web").Req({{"cpu", "500m"}}));
  executor_.RunUntilIdle();

  const api::v1::Pod pod = Get("web");
  const std::vector<HttpRequest> requests = extender.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/bind");
  Value binding;
  ASSERT_THAT(api::DecodeMessage(requests[0].body, "binding", binding), IsOk());
  const auto& fields = binding.struct_value().fields();
  EXPECT_EQ(fields.at("PodName").string_value(), "web");
  EXPECT_EQ(fields.at("PodNamespace").string_value(), "default");
  EXPECT_EQ(fields.at("PodUID").string_value(), pod.metadata().uid());
  EXPECT_EQ(fields.at("Node").string_value(), "node-a");
  // The extender owns the write: DefaultBinder left the pod alone.
  EXPECT_EQ(pod.spec().node_name(), "");
  EXPECT_THAT(EventsFor("web", "Scheduled"),
              ElementsAre("Successfully assigned default/web to node-a"));
  EXPECT_EQ(scheduler_->stats().scheduled, 1);
}

TEST_F(SchedulerExtenderTest, FailedExtenderBindIsRetriedLikeAFailedBindPlugin) {
  HttpTestServer extender(
      [](const HttpRequest&) { return HttpResponse{200, R"({"Error":"binding refused"})"}; });
  ASSERT_NO_FATAL_FAILURE(StartScheduler(
      fmt::format("- urlPrefix: {}\n  bindVerb: bind\n", extender.url())));
  AddNode("node-a", "1");
  AddPod(MakePod("web").Req({{"cpu", "1"}}));
  executor_.RunUntilIdle();

  EXPECT_EQ(NodeOf("web"), "");
  EXPECT_EQ(Scheduled("web"), fmt::format("False/SchedulerError: extender {}/bind: binding refused",
                                          extender.url()));
  EXPECT_EQ(scheduler_->stats().errors, 1);
  EXPECT_EQ(scheduler_->stats().scheduled, 0);

  // The assumed pod was forgotten (its whole cpu is free again): after its backoff the pod
  // is tried on node-a again, and the extender asked again.
  executor_.AdvanceBy(absl::Seconds(2));
  executor_.RunUntilIdle();
  EXPECT_EQ(extender.requests().size(), 2u);
  EXPECT_EQ(scheduler_->stats().errors, 2);
}

TEST_F(SchedulerExtenderTest, IgnorableExtenderThatIsDownIsSkipped) {
  ASSERT_NO_FATAL_FAILURE(StartScheduler(fmt::format(
      "- urlPrefix: http://127.0.0.1:{}\n  filterVerb: filter\n  prioritizeVerb: prioritize\n"
      "  weight: 1\n  bindVerb: bind\n  ignorable: true\n",
      ClosedPort())));
  AddNode("node-a", "4");
  AddNode("node-b", "4");
  AddPod(MakePod("web").Req({{"cpu", "500m"}}));
  executor_.RunUntilIdle();
  EXPECT_NE(NodeOf("web"), "");  // DefaultBinder bound it after the extender's bind failed
  EXPECT_EQ(scheduler_->stats().errors, 0);
}

TEST_F(SchedulerExtenderTest, RequiredExtenderThatIsDownStopsScheduling) {
  const int port = ClosedPort();
  ASSERT_NO_FATAL_FAILURE(StartScheduler(
      fmt::format("- urlPrefix: http://127.0.0.1:{}\n  filterVerb: filter\n", port)));
  AddNode("node-a", "4");
  AddPod(MakePod("web").Req({{"cpu", "500m"}}));
  executor_.RunUntilIdle();

  EXPECT_EQ(NodeOf("web"), "");
  const std::string condition = Scheduled("web");
  EXPECT_THAT(condition, StartsWith(fmt::format(
                             "False/SchedulerError: extender http://127.0.0.1:{}/filter: ", port)));
  EXPECT_THAT(EventsFor("web", "FailedScheduling"),
              ElementsAre(HasSubstr(fmt::format("http://127.0.0.1:{}/filter", port))));
  EXPECT_EQ(scheduler_->stats().errors, 1);
  EXPECT_EQ(scheduler_->stats().pending, 1);
}

TEST_F(SchedulerExtenderTest, ManagedResourcesDecideWhichPodsTheExtenderSees) {
  // The extender accounts for example.com/gpu itself (ignoredByScheduler): no node has it in
  // its allocatable, yet NodeResourcesFit must let gpu pods through to the extender.
  HttpTestServer extender(Rejecting({{"node-a", "no gpu left"}}));
  ASSERT_NO_FATAL_FAILURE(StartScheduler(fmt::format(
      "- urlPrefix: {}\n  filterVerb: filter\n  nodeCacheCapable: true\n"
      "  managedResources:\n  - name: example.com/gpu\n    ignoredByScheduler: true\n",
      extender.url())));
  AddNode("node-a", "16");
  AddNode("node-b", "4");

  AddPod(MakePod("cpu-only").Req({{"cpu", "500m"}}));
  executor_.RunUntilIdle();
  EXPECT_EQ(NodeOf("cpu-only"), "node-a");  // the plugins' choice; the extender not asked
  EXPECT_TRUE(extender.requests().empty());

  AddPod(MakePod("trainer").Req({{"cpu", "500m"}, {"example.com/gpu", "1"}}));
  executor_.RunUntilIdle();
  EXPECT_EQ(NodeOf("trainer"), "node-b") << Scheduled("trainer");
  ASSERT_EQ(extender.requests().size(), 1u);
  EXPECT_EQ(Parse(extender.requests()[0]).pod, "trainer");
}

TEST_F(SchedulerExtenderTest, ResourceManagedWithoutIgnoredBySchedulerIsStillChecked) {
  HttpTestServer extender(Rejecting({}));
  ASSERT_NO_FATAL_FAILURE(StartScheduler(fmt::format(
      "- urlPrefix: {}\n  filterVerb: filter\n  nodeCacheCapable: true\n"
      "  managedResources:\n  - name: example.com/gpu\n",
      extender.url())));
  AddNode("node-a", "4");
  AddPod(MakePod("trainer").Req({{"cpu", "500m"}, {"example.com/gpu", "1"}}));
  executor_.RunUntilIdle();
  EXPECT_EQ(NodeOf("trainer"), "");
  EXPECT_THAT(Scheduled("trainer"),
              StartsWith("False/Unschedulable: 0/1 nodes are available: 1 Insufficient "
                         "example.com/gpu."));
  EXPECT_TRUE(extender.requests().empty());  // no node passed the plugins
}

// Creates the scheduler in the test, to see it refused.
using SchedulerExtenderCreateTest = SchedulerExtenderTest;

TEST_F(SchedulerExtenderCreateTest, BadExtenderIsAConfigurationError) {
  SchedulerOptions options = Options();
  options.config_source = "sched.yaml";
  options.config.add_extenders()->set_filter_verb("filter");
  EXPECT_THAT(Scheduler::Create(std::move(options)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("sched.yaml: extenders[0].urlPrefix: required")));
}

// ---------------------------------------------------------------------------------------
// Place calls extenders too (Filter and Prioritize), and its totals include them.

TEST(PlaceExtenderTest, FilterAndPrioritizeShapeThePlacementsAndTheirScores) {
  HttpTestServer filter(Rejecting({{"a", "no gpu left"}}));
  HttpTestServer scorer([](const HttpRequest& request) {
    std::vector<std::string> scores;
    for (const std::string& node : Parse(request).nodes) {
      scores.push_back(fmt::format(R"({{"Host":"{}","Score":{}}})", node, node == "c" ? 3 : 0));
    }
    return HttpResponse{200, fmt::format("[{}]", fmt::join(scores, ","))};
  });
  ORCH_ASSERT_OK_AND_ASSIGN(
      v1::KubeSchedulerConfiguration config,
      LoadConfig(fmt::format("{}extenders:\n"
                             "- urlPrefix: {}\n  filterVerb: filter\n  nodeCacheCapable: true\n"
                             "- urlPrefix: {}\n  prioritizeVerb: p\n  weight: 2\n"
                             "  nodeCacheCapable: true\n",
                             kHeader, filter.url(), scorer.url()),
                 "sched.yaml", Registry::InTree()));
  PlaceInput input;
  for (const char* name : {"a", "b", "c"}) {
    input.nodes.push_back(MakeNode(name)
                              .Capacity({{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}})
                              .Label("kubernetes.io/hostname", name)
                              .Obj());
  }
  input.pending.push_back(MakePod("web").Req({{"cpu", "1"}}).Obj());
  PlaceOptions options;
  options.config = std::move(config);
  options.keep_scores = true;
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<PodPlacement> placed, Place(input, options));
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].node, "c");
  // b and c tie on the plugins; c has 3 × 2 × 10 = 60 more from the extender.
  ASSERT_EQ(placed[0].scores.size(), 2u);
  EXPECT_EQ(placed[0].scores[0].first, "b");
  EXPECT_THAT(placed[0].scores[1], Pair("c", placed[0].scores[0].second + 60));
  EXPECT_EQ(filter.requests().size(), 1u);
  ASSERT_EQ(scorer.requests().size(), 1u);
  EXPECT_THAT(Parse(scorer.requests()[0]).nodes, ElementsAre("b", "c"));
}

TEST(PlaceExtenderTest, IgnoredBySchedulerAddsToTheProfilesOwnIgnoredResources) {
  // An extender without verbs is never called: only its managedResources matter here.
  ORCH_ASSERT_OK_AND_ASSIGN(
      v1::KubeSchedulerConfiguration config,
      LoadConfig(fmt::format("{}profiles:\n- schedulerName: default-scheduler\n"
                             "  pluginConfig:\n  - name: NodeResourcesFit\n"
                             "    args: {{ignoredResources: [example.com/fpga]}}\n"
                             "extenders:\n- urlPrefix: http://127.0.0.1:{}\n"
                             "  managedResources:\n  - name: example.com/gpu\n"
                             "    ignoredByScheduler: true\n",
                             kHeader, ClosedPort()),
                 "sched.yaml", Registry::InTree()));
  PlaceInput input;
  input.nodes.push_back(MakeNode("a")
                            .Capacity({{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}})
                            .Obj());
  input.pending.push_back(
      MakePod("both").Req({{"example.com/gpu", "1"}, {"example.com/fpga", "1"}}).Obj());
  input.pending.push_back(MakePod("other").Req({{"example.com/asic", "1"}}).Obj());
  PlaceOptions options;
  options.config = std::move(config);
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<PodPlacement> placed, Place(input, options));
  ASSERT_EQ(placed.size(), 2u);
  EXPECT_EQ(placed[0].node, "a") << placed[0].message;
  EXPECT_EQ(placed[1].node, "");
  EXPECT_THAT(placed[1].message,
              StartsWith("0/1 nodes are available: 1 Insufficient example.com/asic."));
}

}  // namespace
}  // namespace orch::scheduler

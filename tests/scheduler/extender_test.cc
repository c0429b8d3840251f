// HttpExtender against a small HTTP/1.1 server on 127.0.0.1, and the scheduler's extender
// steps (FilterWithExtenders, PrioritizeWithExtenders, BindWithExtenders).
#include "orch/scheduler/extender.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"
#include "orch/api/codec.h"
#include "support/http_test_server.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::google::protobuf::Value;
using ::orch::testing::ClosedPort;
using ::orch::testing::HttpRequest;
using ::orch::testing::HttpResponse;
using ::orch::testing::HttpTestServer;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr absl::StatusCode kUnavailable = absl::StatusCode::kUnavailable;

// ---------------------------------------------------------------------------------------
// Fixtures.

api::v1::Pod MakePod(const std::string& name, const std::string& gpu_where = "") {
  api::v1::Pod pod;
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_metadata()->set_uid("uid-" + name);
  api::v1::Container* container = pod.mutable_spec()->add_containers();
  container->set_name("app");
  container->set_image("nginx:1.25");
  (*container->mutable_resources()->mutable_requests())["cpu"].set_value("100m");
  if (gpu_where == "limits") {
    (*container->mutable_resources()->mutable_limits())["example.com/gpu"].set_value("1");
  } else if (gpu_where == "init") {
    api::v1::Container* init = pod.mutable_spec()->add_init_containers();
    init->set_name("setup");
    (*init->mutable_resources()->mutable_requests())["example.com/gpu"].set_value("1");
  }
  return pod;
}

class Nodes {
 public:
  explicit Nodes(std::vector<std::string> names) {
    for (const std::string& name : names) {
      auto node = std::make_shared<api::v1::Node>();
      node->mutable_metadata()->set_name(name);
      node->mutable_metadata()->mutable_labels()->insert({"zone", "z-" + name});
      (*node->mutable_status()->mutable_allocatable())["cpu"].set_value("4");
      absl::StatusOr<NodeInfo> info = NodeInfo::Create(node);
      EXPECT_THAT(info, IsOk());
      storage_.push_back(std::make_unique<NodeInfo>(*std::move(info)));
    }
    for (const auto& info : storage_) pointers_.push_back(info.get());
  }
  const std::vector<const NodeInfo*>& all() const { return pointers_; }
  const NodeInfo* operator[](std::size_t i) const { return pointers_[i]; }

 private:
  std::vector<std::unique_ptr<NodeInfo>> storage_;
  std::vector<const NodeInfo*> pointers_;
};

std::vector<std::string> NamesOf(const std::vector<const NodeInfo*>& nodes) {
  std::vector<std::string> names;
  for (const NodeInfo* node : nodes) names.push_back(node->name());
  return names;
}

Value ParseJson(const std::string& body) {
  Value value;
  EXPECT_THAT(api::DecodeMessage(body, "request", value), IsOk()) << body;
  return value;
}

const Value& Get(const Value& object, const std::string& key) {
  static const Value* const missing = new Value();
  const auto& fields = object.struct_value().fields();
  auto it = fields.find(key);
  return it == fields.end() ? *missing : it->second;
}

std::unique_ptr<HttpExtender> MakeExtender(const std::string& yaml) {
  v1::Extender config;
  EXPECT_THAT(api::DecodeMessage(yaml, "extender", config), IsOk());
  absl::StatusOr<std::unique_ptr<HttpExtender>> extender = HttpExtender::Create(config);
  EXPECT_THAT(extender, IsOk());
  return extender.ok() ? *std::move(extender) : nullptr;
}

// ---------------------------------------------------------------------------------------
// Filter.

TEST(HttpExtenderTest, FilterSendsThePodAndNodeListAndReadsTheResult) {
  HttpTestServer server([](const HttpRequest&) {
    // Lower-case field names, as many extenders write them: Go reads them all the same.
    return HttpResponse{200, R"({"nodes": {"items": [{"metadata": {"name": "n3"}},
                                                     {"metadata": {"name": "n1"}}]},
                                "failedNodes": {"n2": "no gpu left"},
                                "failedAndUnresolvableNodes": {}, "error": ""})"};
  });
  Nodes nodes({"n1", "n2", "n3"});
  auto extender =
      MakeExtender(fmt::format("urlPrefix: {}/sched/\nfilterVerb: filter\n", server.url()));
  ASSERT_NE(extender, nullptr);
  const api::v1::Pod pod = MakePod("web");
  ORCH_ASSERT_OK_AND_ASSIGN(ExtenderFilterResult result, extender->Filter(pod, nodes.all()));
  EXPECT_THAT(result.feasible, ElementsAre(nodes[2], nodes[0]));  // the extender's order
  EXPECT_THAT(result.failed, ElementsAre(Pair("n2", "no gpu left")));
  EXPECT_TRUE(result.failed_and_unresolvable.empty());

  std::vector<HttpRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/sched/filter");
  EXPECT_EQ(requests[0].Header("content-type"), "application/json");
  // ExtenderArgs as kube-scheduler marshals it: the pod and a NodeList, no names.
  const Value args = ParseJson(requests[0].body);
  api::v1::Pod sent;
  ASSERT_THAT(api::DecodeMessage(api::EncodeJson(Get(args, "Pod")).value(), "pod", sent), IsOk());
  EXPECT_EQ(sent.SerializeAsString(), pod.SerializeAsString());
  EXPECT_EQ(Get(args, "NodeNames").kind_case(), Value::kNullValue);
  const Value& items = Get(Get(args, "Nodes"), "items");
  ASSERT_EQ(items.list_value().values_size(), 3);
  EXPECT_EQ(Get(Get(items.list_value().values(1), "metadata"), "name").string_value(), "n2");
  EXPECT_EQ(
      Get(Get(Get(items.list_value().values(1), "metadata"), "labels"), "zone").string_value(),
      "z-n2");
  EXPECT_EQ(
      Get(Get(Get(items.list_value().values(0), "status"), "allocatable"), "cpu").string_value(),
      "4");
}

TEST(HttpExtenderTest, NodeCacheCapableSendsAndReadsNodeNames) {
  HttpTestServer server([](const HttpRequest&) {
    return HttpResponse{200, R"({"NodeNames": ["n2"],
                                "FailedNodes": {"n1": "busy"},
                                "FailedAndUnresolvableNodes": {"n3": "wrong rack"}})"};
  });
  Nodes nodes({"n1", "n2", "n3"});
  auto extender = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: filter\nnodeCacheCapable: true\n", server.url()));
  ORCH_ASSERT_OK_AND_ASSIGN(ExtenderFilterResult result,
                            extender->Filter(MakePod("web"), nodes.all()));
  EXPECT_THAT(result.feasible, ElementsAre(nodes[1]));
  EXPECT_THAT(result.failed, ElementsAre(Pair("n1", "busy")));
  EXPECT_THAT(result.failed_and_unresolvable, ElementsAre(Pair("n3", "wrong rack")));

  const Value args = ParseJson(server.requests().at(0).body);
  EXPECT_EQ(Get(args, "Nodes").kind_case(), Value::kNullValue);
  const auto& names = Get(args, "NodeNames").list_value().values();
  ASSERT_EQ(names.size(), 3);
  EXPECT_EQ(names[0].string_value(), "n1");
  EXPECT_EQ(names[2].string_value(), "n3");
  EXPECT_EQ(Get(Get(args, "Pod"), "metadata").struct_value().fields().at("name").string_value(),
            "web");
}

TEST(HttpExtenderTest, FilterRefusesANodeItWasNotGiven) {
  HttpTestServer server([](const HttpRequest&) {
    return HttpResponse{200, R"({"NodeNames": ["n1", "n9"]})"};
  });
  Nodes nodes({"n1", "n2"});
  auto extender = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: filter\nnodeCacheCapable: true\n", server.url()));
  EXPECT_THAT(extender->Filter(MakePod("web"), nodes.all()),
              StatusIs(kUnavailable, HasSubstr("claims a filtered node \"n9\" which is not found "
                                               "in the input node list")));
}

TEST(HttpExtenderTest, FilterErrorFieldAndNoVerb) {
  HttpTestServer server([](const HttpRequest&) {
    return HttpResponse{200, R"({"Error": "backend down"})"};
  });
  Nodes nodes({"n1", "n2"});
  auto extender = MakeExtender(fmt::format("urlPrefix: {}\nfilterVerb: filter\n", server.url()));
  EXPECT_THAT(
      extender->Filter(MakePod("web"), nodes.all()),
      StatusIs(kUnavailable, Eq(fmt::format("extender {}/filter: backend down", server.url()))));

  // Without a filter verb every node passes and nothing is sent.
  auto scorer =
      MakeExtender(fmt::format("urlPrefix: {}\nprioritizeVerb: p\nweight: 1\n", server.url()));
  ORCH_ASSERT_OK_AND_ASSIGN(ExtenderFilterResult all, scorer->Filter(MakePod("web"), nodes.all()));
  EXPECT_EQ(all.feasible, nodes.all());
  EXPECT_EQ(server.requests().size(), 1u);
}

// ---------------------------------------------------------------------------------------
// Prioritize and Bind.

TEST(HttpExtenderTest, PrioritizeReturnsScoresAndWeightScaledAsKubernetesDoes) {
  HttpTestServer first([](const HttpRequest& request) {
    EXPECT_EQ(request.path, "/prioritize");
    return HttpResponse{200, R"([{"Host": "n1", "Score": 3}, {"host": "n2", "score": 10}])"};
  });
  HttpTestServer second([](const HttpRequest&) {
    return HttpResponse{200, R"([{"Host": "n2", "Score": 1}, {"Host": "n3", "Score": 0}])"};
  });
  Nodes nodes({"n1", "n2", "n3"});
  auto a = MakeExtender(
      fmt::format("urlPrefix: {}\nprioritizeVerb: prioritize\nweight: 2\n", first.url()));
  auto b = MakeExtender(
      fmt::format("urlPrefix: {}\nprioritizeVerb: prioritize\nweight: 5\n", second.url()));
  ORCH_ASSERT_OK_AND_ASSIGN(ExtenderPriorities priorities,
                            a->Prioritize(MakePod("web"), nodes.all()));
  EXPECT_EQ(priorities.weight, 2);
  ASSERT_EQ(priorities.hosts.size(), 2u);
  EXPECT_EQ(priorities.hosts[1].host, "n2");
  EXPECT_EQ(priorities.hosts[1].score, 10);

  // score × weight × (100 / 10), summed over extenders.
  EXPECT_THAT(PrioritizeWithExtenders({a.get(), b.get()}, MakePod("web"), nodes.all()),
              UnorderedElementsAre(Pair("n1", 3 * 2 * 10), Pair("n2", 10 * 2 * 10 + 1 * 5 * 10),
                                   Pair("n3", 0)));

  // Without a prioritize verb: zeros, weight 0, nothing sent.
  auto filter_only = MakeExtender(fmt::format("urlPrefix: {}\nfilterVerb: f\n", first.url()));
  ORCH_ASSERT_OK_AND_ASSIGN(priorities, filter_only->Prioritize(MakePod("web"), nodes.all()));
  EXPECT_EQ(priorities.weight, 0);
  EXPECT_EQ(priorities.hosts.size(), 3u);
  EXPECT_EQ(first.requests().size(), 2u);
}

TEST(HttpExtenderTest, BindSendsBindingArgs) {
  std::atomic<bool> refuse{false};
  HttpTestServer server([&refuse](const HttpRequest&) {
    return HttpResponse{200, refuse ? R"({"Error": "node n1 is full"})" : R"({"Error": ""})"};
  });
  auto binder = MakeExtender(fmt::format("urlPrefix: {}\nbindVerb: bind\n", server.url()));
  ASSERT_TRUE(binder->IsBinder());
  const api::v1::Pod pod = MakePod("web");
  ORCH_ASSERT_OK_AND_ASSIGN(bool bound, BindWithExtenders({binder.get()}, pod, "n1"));
  EXPECT_TRUE(bound);
  const std::vector<HttpRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/bind");
  const Value args = ParseJson(requests[0].body);
  EXPECT_EQ(Get(args, "PodName").string_value(), "web");
  EXPECT_EQ(Get(args, "PodNamespace").string_value(), "default");
  EXPECT_EQ(Get(args, "PodUID").string_value(), "uid-web");
  EXPECT_EQ(Get(args, "Node").string_value(), "n1");

  refuse = true;
  EXPECT_THAT(BindWithExtenders({binder.get()}, pod, "n1"),
              StatusIs(kUnavailable, HasSubstr("node n1 is full")));
  // No binder among the extenders: the Bind plugins bind.
  auto filter_only = MakeExtender(fmt::format("urlPrefix: {}\nfilterVerb: f\n", server.url()));
  ORCH_ASSERT_OK_AND_ASSIGN(bound, BindWithExtenders({filter_only.get()}, pod, "n1"));
  EXPECT_FALSE(bound);
  EXPECT_THAT(filter_only->Bind("u", "p", "ns", "n1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// ---------------------------------------------------------------------------------------
// Who takes part, and what happens when a call fails.

TEST(HttpExtenderTest, ManagedResourcesLimitWhichPodsTheExtenderSees) {
  HttpTestServer server([](const HttpRequest&) { return HttpResponse{200, R"({"NodeNames": []})"}; });
  auto extender = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: filter\nnodeCacheCapable: true\n"
                  "managedResources: [{{name: example.com/gpu, ignoredByScheduler: true}}]\n",
                  server.url()));
  EXPECT_FALSE(extender->IsInterested(MakePod("plain")));
  EXPECT_TRUE(extender->IsInterested(MakePod("gpu", "limits")));
  EXPECT_TRUE(extender->IsInterested(MakePod("init", "init")));
  EXPECT_TRUE(MakeExtender("urlPrefix: http://x\n")->IsInterested(MakePod("plain")));

  Nodes nodes({"n1", "n2"});
  NodeToStatus statuses;
  ORCH_ASSERT_OK_AND_ASSIGN(
      std::vector<const NodeInfo*> kept,
      FilterWithExtenders({extender.get()}, MakePod("plain"), nodes.all(), statuses));
  EXPECT_EQ(kept, nodes.all());  // not asked
  EXPECT_TRUE(server.requests().empty());
  ORCH_ASSERT_OK_AND_ASSIGN(
      kept, FilterWithExtenders({extender.get()}, MakePod("gpu", "limits"), nodes.all(), statuses));
  EXPECT_TRUE(kept.empty());  // asked; it kept nothing
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpExtenderTest, TimeoutEndsTheCallWithinHttpTimeout) {
  HttpTestServer server([](const HttpRequest&) {
    return HttpResponse{200, R"({"NodeNames": []})", absl::Seconds(5)};
  });
  Nodes nodes({"n1"});
  auto extender = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: filter\nhttpTimeout: 300ms\n", server.url()));
  const absl::Time start = absl::Now();
  EXPECT_THAT(extender->Filter(MakePod("web"), nodes.all()),
              StatusIs(kUnavailable, ::testing::AllOf(HasSubstr(server.url() + "/filter"),
                                                      HasSubstr("(httpTimeout 300ms)"))));
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_GE(elapsed, absl::Milliseconds(250));
  EXPECT_LT(elapsed, absl::Seconds(2));
}

TEST(HttpExtenderTest, IgnorableFailuresAreSkippedOthersFail) {
  HttpTestServer broken([](const HttpRequest&) { return HttpResponse{500, "oops"}; });
  HttpTestServer working([](const HttpRequest&) {
    return HttpResponse{200, R"({"NodeNames": ["n2"], "FailedNodes": {"n1": "too hot"}})"};
  });
  Nodes nodes({"n1", "n2"});
  auto ignorable = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: filter\nnodeCacheCapable: true\nignorable: true\n",
                  broken.url()));
  auto required = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: filter\nnodeCacheCapable: true\n", broken.url()));
  auto good = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: filter\nnodeCacheCapable: true\n", working.url()));
  auto unreachable = MakeExtender(fmt::format(
      "urlPrefix: http://127.0.0.1:{}\nfilterVerb: filter\nignorable: true\n", ClosedPort()));

  NodeToStatus statuses;
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<const NodeInfo*> kept,
                            FilterWithExtenders({ignorable.get(), unreachable.get(), good.get()},
                                                MakePod("web"), nodes.all(), statuses));
  EXPECT_THAT(kept, ElementsAre(nodes[1]));
  ASSERT_TRUE(statuses.contains("n1"));
  EXPECT_EQ(statuses.at("n1").code(), Code::kUnschedulable);
  EXPECT_THAT(statuses.at("n1").reasons(), ElementsAre("too hot"));

  EXPECT_THAT(
      FilterWithExtenders({required.get(), good.get()}, MakePod("web"), nodes.all(), statuses),
      StatusIs(kUnavailable, Eq(fmt::format("extender {}/filter: HTTP status 500", broken.url()))));
  auto refused = MakeExtender(
      fmt::format("urlPrefix: http://127.0.0.1:{}\nfilterVerb: filter\n", ClosedPort()));
  EXPECT_THAT(refused->Filter(MakePod("web"), nodes.all()),
              StatusIs(kUnavailable, HasSubstr("/filter: ")));
  // A failed prioritize is left out, ignorable or not.
  auto scorer =
      MakeExtender(fmt::format("urlPrefix: {}\nprioritizeVerb: p\nweight: 3\n", broken.url()));
  EXPECT_TRUE(PrioritizeWithExtenders({scorer.get()}, MakePod("web"), nodes.all()).empty());
}

TEST(HttpExtenderTest, UnresolvableWinsAndReasonsAccumulate) {
  HttpTestServer first([](const HttpRequest&) {
    return HttpResponse{200, R"({"NodeNames": ["n2", "n3"], "FailedNodes": {"n1": "a"}})"};
  });
  HttpTestServer second([](const HttpRequest& request) {
    // Sees only what the first one kept.
    EXPECT_THAT(request.body, HasSubstr(R"("NodeNames":["n2","n3"])"));
    return HttpResponse{200, R"({"NodeNames": ["n3"], "FailedNodes": {"n2": "b"},
                                "FailedAndUnresolvableNodes": {"n2": "c"}})"};
  });
  Nodes nodes({"n1", "n2", "n3"});
  auto a = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: f\nnodeCacheCapable: true\n", first.url()));
  auto b = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: f\nnodeCacheCapable: true\n", second.url()));
  NodeToStatus statuses;
  statuses.emplace("n2", Status::Unschedulable("Insufficient cpu"));  // from the plugins
  ORCH_ASSERT_OK_AND_ASSIGN(
      std::vector<const NodeInfo*> kept,
      FilterWithExtenders({a.get(), b.get()}, MakePod("web"), nodes.all(), statuses));
  EXPECT_THAT(NamesOf(kept), ElementsAre("n3"));
  EXPECT_EQ(statuses.at("n1").code(), Code::kUnschedulable);
  EXPECT_EQ(statuses.at("n2").code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_THAT(statuses.at("n2").reasons(), ElementsAre("Insufficient cpu", "c"));
}

TEST(HttpExtenderTest, MalformedRepliesAreErrors) {
  std::atomic<int> which{0};
  HttpTestServer server([&which](const HttpRequest&) {
    static const char* const kReplies[] = {
        "{not json",       R"({"NodeNames": "n1"})",
        R"(["n1"])",       R"({"FailedNodes": {"n1": 3}})",
        R"({"Error": 7})", " \n",
    };
    return HttpResponse{200, kReplies[which.load()]};
  });
  Nodes nodes({"n1"});
  auto extender = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: filter\nnodeCacheCapable: true\n", server.url()));
  const std::string url = server.url() + "/filter";
  const std::vector<std::string> expected = {
      fmt::format("extender {}: malformed reply: line 1", url),
      fmt::format("extender {}: malformed reply: NodeNames: expected array, got string", url),
      fmt::format("extender {}: malformed reply: reply: expected object, got array", url),
      fmt::format("extender {}: malformed reply: FailedNodes.n1: expected string, got number", url),
      fmt::format("extender {}: malformed reply: Error: expected string, got number", url),
      fmt::format("extender {}: malformed reply: empty", url),
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    which = static_cast<int>(i);
    EXPECT_THAT(extender->Filter(MakePod("web"), nodes.all()),
                StatusIs(kUnavailable, HasSubstr(expected[i])))
        << i;
  }

  HttpTestServer scores([](const HttpRequest&) {
    return HttpResponse{200, R"([{"Host": "n1", "Score": 2.5}])"};
  });
  auto scorer =
      MakeExtender(fmt::format("urlPrefix: {}\nprioritizeVerb: p\nweight: 1\n", scores.url()));
  EXPECT_THAT(
      scorer->Prioritize(MakePod("web"), nodes.all()),
      StatusIs(kUnavailable, HasSubstr("malformed reply: [0].Score: expected integer, got 2.5")));
}

// ---------------------------------------------------------------------------------------
// Configuration and transport options.

TEST(HttpExtenderTest, CreateChecksItsConfiguration) {
  v1::Extender config;
  EXPECT_THAT(HttpExtender::Create(config),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq("urlPrefix: required")));
  config.set_url_prefix("http://x");
  config.set_http_timeout("forever");
  EXPECT_THAT(HttpExtender::Create(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     HasSubstr("httpTimeout: invalid duration")));
  v1::KubeSchedulerConfiguration scheduler;
  scheduler.add_extenders()->set_url_prefix("http://a");
  scheduler.add_extenders()->set_prioritize_verb("p");
  EXPECT_THAT(MakeExtenders(scheduler), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 Eq("extenders[1]: urlPrefix: required")));
  scheduler.mutable_extenders(1)->set_url_prefix("http://b");
  scheduler.mutable_extenders(1)->set_weight(1);
  ORCH_ASSERT_OK_AND_ASSIGN(auto extenders, MakeExtenders(scheduler));
  ASSERT_EQ(extenders.size(), 2u);
  EXPECT_EQ(extenders[1]->Name(), "http://b");
  scheduler.mutable_extenders(0)->set_ignorable(true);  // kube-scheduler runs these last
  ORCH_ASSERT_OK_AND_ASSIGN(auto ordered, MakeExtenders(scheduler));
  ASSERT_EQ(ordered.size(), 2u);
  EXPECT_EQ(ordered[0]->Name(), "http://b");
  EXPECT_EQ(ordered[1]->Name(), "http://a");
  auto* gpu = scheduler.mutable_extenders(0)->add_managed_resources();
  gpu->set_name("example.com/gpu");
  gpu->set_ignored_by_scheduler(true);
  scheduler.mutable_extenders(1)->add_managed_resources()->set_name("example.com/fpga");
  EXPECT_THAT(ExtenderIgnoredResources(scheduler), ElementsAre("example.com/gpu"));

  v1::Extender timeout;
  EXPECT_EQ(ExtenderHttpTimeout(timeout).value(), absl::Seconds(30));
  timeout.set_http_timeout("0s");
  EXPECT_EQ(ExtenderHttpTimeout(timeout).value(), absl::Seconds(30));
  timeout.set_http_timeout("1m30s");
  EXPECT_EQ(ExtenderHttpTimeout(timeout).value(), absl::Seconds(90));
  timeout.set_http_timeout("inf");
  EXPECT_THAT(ExtenderHttpTimeout(timeout), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HttpExtenderTest, ServerNameIsTheNameUsedWhileTheHostIsDialled) {
  HttpTestServer server([](const HttpRequest&) {
    return HttpResponse{200, R"({"NodeNames": ["n1"]})"};
  });
  Nodes nodes({"n1"});
  auto extender =
      MakeExtender(fmt::format("urlPrefix: {}/x\nfilterVerb: filter\nnodeCacheCapable: true\n"
                               "tlsConfig: {{serverName: extender.example}}\n",
                               server.url()));
  ORCH_ASSERT_OK_AND_ASSIGN(ExtenderFilterResult result,
                            extender->Filter(MakePod("web"), nodes.all()));
  EXPECT_THAT(result.feasible, ElementsAre(nodes[0]));
  EXPECT_EQ(server.requests().at(0).Header("host"), fmt::format("extender.example:{}", server.port()));
  EXPECT_EQ(server.requests().at(0).path, "/x/filter");
  EXPECT_EQ(extender->Name(), server.url() + "/x");  // as configured
}

TEST(HttpExtenderTest, TlsOptionsReachCurl) {
  HttpTestServer server([](const HttpRequest&) { return HttpResponse{200, "{}"}; });
  Nodes nodes({"n1"});
  // A CA file that does not exist fails before any byte is sent, naming the file.
  auto with_ca = MakeExtender(
      fmt::format("urlPrefix: https://127.0.0.1:{}\nfilterVerb: filter\nenableHTTPS: true\n"
                  "tlsConfig: {{caFile: /nonexistent/orch-ca.pem}}\n",
                  server.port()));
  EXPECT_THAT(with_ca->Filter(MakePod("web"), nodes.all()),
              StatusIs(kUnavailable, HasSubstr("/nonexistent/orch-ca.pem")));
  auto with_cert =
      MakeExtender(fmt::format("urlPrefix: https://127.0.0.1:{}\nfilterVerb: filter\n"
                               "tlsConfig: {{insecure: true, certFile: "
                               "/nonexistent/orch-client.pem, keyFile: /nonexistent/k.pem}}\n",
                               server.port()));
  EXPECT_THAT(with_cert->Filter(MakePod("web"), nodes.all()),
              StatusIs(kUnavailable, HasSubstr("/nonexistent/orch-client.pem")));
}

TEST(HttpExtenderTest, ConcurrentCallsShareTheExtender) {
  HttpTestServer server([](const HttpRequest&) {
    return HttpResponse{200, R"({"NodeNames": ["n1"]})"};
  });
  Nodes nodes({"n1", "n2"});
  auto extender = MakeExtender(
      fmt::format("urlPrefix: {}\nfilterVerb: filter\nnodeCacheCapable: true\n", server.url()));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        absl::StatusOr<ExtenderFilterResult> result = extender->Filter(MakePod("web"), nodes.all());
        if (result.ok() && result->feasible.size() == 1) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(server.requests().size(), 20u);
}

}  // namespace
}  // namespace orch::scheduler

// Runs the built orchctl binary (ORCHCTL_PATH) on good and bad input and checks its
// output and exit codes. Without ORCH_BUILD_TOOLS there is no binary, and the tests say
// they are skipped.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"
#include "orch/api/codec.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

class OrchctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef ORCHCTL_PATH
    GTEST_SKIP() << "orchctl is not built (ORCH_BUILD_TOOLS=OFF)";
#endif
    // One per test and process (ctest runs tests as separate processes at the same time,
    // and two builds' tests may run at once); removed when the test ends.
    dir_ = fs::path(::testing::TempDir()) /
           (std::string("orchctl-test-") + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  Result Run(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    WriteFile(dir_ / "stdin", stdin_text);
#ifdef ORCHCTL_PATH
    std::string command = ShellQuote(ORCHCTL_PATH);
#else
    std::string command = "false";
#endif
    for (const std::string& arg : args) command += " " + ShellQuote(arg);
    command += " <" + ShellQuote((dir_ / "stdin").string()) + " >" +
               ShellQuote((dir_ / "stdout").string()) + " 2>" +
               ShellQuote((dir_ / "stderr").string());
    const int status = std::system(command.c_str());
    Result result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = ReadFile(dir_ / "stdout");
    result.err = ReadFile(dir_ / "stderr");
    return result;
  }

  fs::path dir_;
};

constexpr char kDeploymentAndService[] = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
)";

TEST_F(OrchctlTest, ValidateFileListsObjects) {
  WriteFile(dir_ / "web.yaml", kDeploymentAndService);
  Result result = Run({"validate", "-f", (dir_ / "web.yaml").string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "Deployment default/web\nService shop/web\n");
  EXPECT_THAT(result.err, IsEmpty());
}

TEST_F(OrchctlTest, ValidateDirectoryReadsManifestFilesSortedNotRecursively) {
  WriteFile(dir_ / "m/b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n");
  WriteFile(dir_ / "m/a.json", R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})");
  WriteFile(dir_ / "m/c.yml", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: c\nvalue: 10\n");
  WriteFile(dir_ / "m/notes.txt", "not a manifest: [");
  WriteFile(dir_ / "m/sub/d.yaml", "not: [valid");
  Result result = Run({"validate", "--filename", (dir_ / "m").string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "Namespace a\nNamespace b\nPriorityClass c\n");
}

TEST_F(OrchctlTest, ValidateStdinAndRepeatedFlags) {
  WriteFile(dir_ / "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n");
  Result result = Run({"validate", "-f=-", "--filename=" + (dir_ / "ns.yaml").string()},
                      "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: l\n  namespace: kube-node-lease\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "Lease kube-node-lease/l\nNamespace dev\n");
}

TEST_F(OrchctlTest, BadDocumentPrintsTheCodecErrorAndExits1) {
  const std::string path = (dir_ / "web.yaml").string();
  WriteFile(path, std::string(kDeploymentAndService) + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    resources:\n      limits:\n        cpu: two\n");
  Result result = Run({"validate", "-f", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err,
              StartsWith("error: " + path +
                         R"(: document 3 (Pod "p"): spec.containers[0].resources.limits.cpu: invalid quantity "two")"));
}

TEST_F(OrchctlTest, ValidationErrorsExit1) {
  Result result = Run({"validate", "-f", "-"},
                      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: -1\n");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, StartsWith(R"(error: <stdin>: document 1 (Deployment "web"): )"));
  EXPECT_THAT(result.err, HasSubstr("spec.replicas"));
}

TEST_F(OrchctlTest, MissingPathAndEmptyInputExit1) {
  Result missing = Run({"validate", "-f", (dir_ / "nope.yaml").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("does not exist"));
  Result empty = Run({"validate", "-f", "-"}, "# nothing here\n");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_THAT(empty.err, HasSubstr("no objects found"));
  fs::create_directories(dir_ / "empty");
  Result empty_dir = Run({"validate", "-f", (dir_ / "empty").string()});
  EXPECT_EQ(empty_dir.exit_code, 1);
  EXPECT_THAT(empty_dir.err, HasSubstr("no manifests"));
}

TEST_F(OrchctlTest, UsageErrorsExit2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{}, {"frobnicate"}, {"validate"},
                                             {"validate", "-f"}, {"validate", "--bogus"},
                                             {"validate", "-f", "x.yaml", "extra"}}) {
    Result result = Run(args);
    EXPECT_EQ(result.exit_code, 2) << ::testing::PrintToString(args);
    EXPECT_THAT(result.err, HasSubstr("usage: orchctl")) << ::testing::PrintToString(args);
    EXPECT_THAT(result.out, IsEmpty());
  }
}

TEST_F(OrchctlTest, HelpGoesToStdout) {
  Result top = Run({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, HasSubstr("validate"));
  Result validate = Run({"validate", "--help"});
  EXPECT_EQ(validate.exit_code, 0);
  EXPECT_THAT(validate.out, StartsWith("usage: orchctl validate -f PATH"));
}

TEST_F(OrchctlTest, EveryKubernetesExampleValidates) {
  Result result = Run({"validate", "-f", std::string(ORCH_SOURCE_DIR) + "/tests/api/testdata/k8s-examples"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("Deployment default/nginx-deployment\n"));
  EXPECT_THAT(result.out, HasSubstr("PriorityClass high-priority\n"));
  EXPECT_THAT(result.out, HasSubstr("Lease kube-system/apiserver-07a5ea9b9b072c4a5f3d1c3702\n"));
  EXPECT_THAT(result.out, HasSubstr("Node 10.240.79.157\n"));
  EXPECT_GE(std::count(result.out.begin(), result.out.end(), '\n'), 30);
}

// ------------------------------------------------------------------ orchctl place

constexpr char kPlaceState[] = R"(apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {kubernetes.io/hostname: node-a}}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: node-b, labels: {kubernetes.io/hostname: node-b}}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: node-c, labels: {kubernetes.io/hostname: node-c}}
spec: {taints: [{key: dedicated, value: gpu, effect: NoSchedule}]}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}
---
apiVersion: v1
kind: Pod
metadata: {name: running, namespace: default}
spec:
  nodeName: node-a
  containers: [{name: c, image: app:v1, resources: {requests: {cpu: "3", memory: 1Gi}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec: {containers: [{name: c, image: app:v1, resources: {requests: {cpu: "1", memory: 1Gi}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: big, namespace: default}
spec: {containers: [{name: c, image: app:v1, resources: {requests: {cpu: "3500m"}}}]}
)";

// One output line as a Struct (JSON is YAML).
google::protobuf::Struct ParseLine(const std::string& line) {
  google::protobuf::Struct parsed;
  absl::Status status = orch::api::DecodeMessage(line, "output", parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << line;
  return parsed;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(OrchctlTest, PlacePrintsEachPendingPodsNodeOrWhyNot) {
  WriteFile(dir_ / "state.yaml", kPlaceState);
  Result result = Run({"place", "-f", (dir_ / "state.yaml").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // web avoids the fuller node-a and the tainted node-c; then node-b has 3 cpu left, so
  // big (3.5 cpu) fits nowhere, for a different reason on each node.
  EXPECT_EQ(result.out,
            "{\"pod\": \"default/web\", \"node\": \"node-b\", \"message\": "
            "\"Successfully assigned default/web to node-b\"}\n"
            "{\"pod\": \"default/big\", \"node\": null, \"message\": \"0/3 nodes are available: "
            "1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: "
            "0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No "
            "preemption victims found for incoming pod..\"}\n");
}

TEST_F(OrchctlTest, PlaceScoresAreTheWeightedSumOfEachPluginsNormalizedScore) {
  WriteFile(dir_ / "state.yaml", kPlaceState);
  Result result = Run({"place", "-f", (dir_ / "state.yaml").string(), "--scores"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::string> lines = Lines(result.out);
  ASSERT_EQ(lines.size(), 2u);
  const google::protobuf::Struct web = ParseLine(lines[0]);
  const auto& scores = web.fields().at("scores").struct_value().fields();
  const auto& plugins = web.fields().at("plugins").struct_value().fields();
  ASSERT_EQ(scores.size(), 2u);  // the feasible nodes: node-c's taint filters it out
  ASSERT_TRUE(scores.contains("node-a") && scores.contains("node-b"));
  // Kubernetes' default score plugins and weights.
  const std::map<std::string, int> weights = {
      {"TaintToleration", 3}, {"NodeAffinity", 2}, {"NodeResourcesFit", 1},
      {"PodTopologySpread", 2}, {"InterPodAffinity", 2},
      {"NodeResourcesBalancedAllocation", 1}, {"ImageLocality", 1}};
  for (const char* node : {"node-a", "node-b"}) {
    const auto& per_plugin = plugins.at(node).struct_value().fields();
    EXPECT_EQ(per_plugin.size(), weights.size()) << node;
    double total = 0;
    for (const auto& [plugin, score] : per_plugin) {
      ASSERT_TRUE(weights.contains(plugin)) << plugin;
      EXPECT_GE(score.number_value(), 0);
      EXPECT_LE(score.number_value(), 100);
      total += weights.at(plugin) * score.number_value();
    }
    EXPECT_EQ(scores.at(node).number_value(), total) << node;
  }
  EXPECT_GT(scores.at("node-b").number_value(), scores.at("node-a").number_value());
  const google::protobuf::Struct big = ParseLine(lines[1]);
  EXPECT_TRUE(big.fields().at("scores").struct_value().fields().empty());
}

TEST_F(OrchctlTest, PlaceConfigChangesTheStrategy) {
  WriteFile(dir_ / "state.yaml", kPlaceState);
  // MostAllocated packs: web goes to the fuller node-a instead.
  WriteFile(dir_ / "sched.yaml", R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
)");
  Result result = Run({"place", "-f", (dir_ / "state.yaml").string(), "--config",
                       (dir_ / "sched.yaml").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(Lines(result.out).at(0), HasSubstr("\"node\": \"node-a\""));
}

TEST_F(OrchctlTest, PlaceBadInputExits1NamingTheProblem) {
  WriteFile(dir_ / "state.yaml", kDeploymentAndService);
  Result result = Run({"place", "-f", (dir_ / "state.yaml").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("state.yaml: document 1: kind Deployment: a scheduling "
                                    "state holds only Nodes, Pods and Namespaces"));
  EXPECT_THAT(result.out, IsEmpty());

  WriteFile(dir_ / "ok.yaml", kPlaceState);
  WriteFile(dir_ / "sched.yaml", R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- plugins:
    score: {enabled: [{name: NoSuchPlugin}]}
)");
  result = Run({"place", "-f", (dir_ / "ok.yaml").string(), "--config",
                (dir_ / "sched.yaml").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("sched.yaml"));
  EXPECT_THAT(result.err, HasSubstr("NoSuchPlugin"));
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(OrchctlTest, PlaceUsageErrorsExit2) {
  EXPECT_EQ(Run({"place"}).exit_code, 2);
  EXPECT_EQ(Run({"place", "-f", "x.yaml", "--seed", "minus-one"}).exit_code, 2);
  EXPECT_EQ(Run({"place", "-f", "x.yaml", "--bogus"}).exit_code, 2);
}

// The demo tells its whole story and closes with a summary of what healed; on a pipe it
// does not pause.
TEST_F(OrchctlTest, DemoNarratesTheStoryAndSummarizesWhatHealed) {
  const absl::Time start = absl::Now();
  Result result = Run({"demo"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));  // no pauses on a pipe
  for (const char* step : {"== Deploy web", "== Lose node-", "== Roll out web:v2",
                           "== Roll back to web:v1", "== Scale web to 12 replicas",
                           "is Unknown and tainted node.kubernetes.io/unreachable:NoExecute",
                           "CrashLoopBackOff", "Summary", "web deployed: 6 replicas available",
                           "bad rollout held at >= 5 of 6 available", "scaled from 6 to 12"}) {
    EXPECT_THAT(result.out, HasSubstr(step)) << step;
  }
  EXPECT_EQ(Run({"demo", "--bogus"}).exit_code, 2);
}


}  // namespace

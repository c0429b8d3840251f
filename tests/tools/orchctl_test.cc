// Runs the built orchctl binary (ORCHCTL_PATH) on good and bad input and checks its
// output and exit codes. Without ORCH_BUILD_TOOLS there is no binary, and the tests say
// they are skipped.
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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
    dir_ = fs::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
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

}  // namespace

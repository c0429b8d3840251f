#include "orch/api/codec.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "google/protobuf/type.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/wrappers.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/discovery.pb.h"
#include "orch/api/v1/meta.pb.h"
#include "orch/api/v1/scheduling.pb.h"
#include "support/status_matchers.h"

namespace orch::api {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const DecodeOptions kRawOptions{.apply_defaults = false, .validate = false};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status DecodeError(std::string_view text, const DecodeOptions& options = kRawOptions) {
  return DecodeManifests(text, "web.yaml", Scheme::Builtin(), options).status();
}

// Encodes `object` as YAML and as JSON (compact and pretty), decodes each back with
// `options`, and expects the very same message.
void ExpectRoundTrip(const google::protobuf::Message& object, const DecodeOptions& options) {
  absl::StatusOr<std::string> yaml = EncodeYaml(object);
  absl::StatusOr<std::string> json = EncodeJson(object);
  absl::StatusOr<std::string> pretty = EncodeJson(object, /*pretty=*/true);
  ASSERT_THAT(yaml, IsOk());
  ASSERT_THAT(json, IsOk());
  ASSERT_THAT(pretty, IsOk());
  for (const std::string* text : {&*yaml, &*json, &*pretty}) {
    SCOPED_TRACE(*text);
    ORCH_ASSERT_OK_AND_ASSIGN(auto again,
                              DecodeManifests(*text, "encoded", Scheme::Builtin(), options));
    ASSERT_EQ(again.size(), 1u);
    std::string differences;
    MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&differences);
    EXPECT_TRUE(differencer.Compare(object, *again[0].object)) << differences;
  }
}

// ---------------------------------------------------------------------------------------
// The Kubernetes documentation's examples.

std::vector<std::filesystem::path> ExampleFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(ORCH_SOURCE_DIR) / "tests/api/testdata/k8s-examples")) {
    const std::string extension = entry.path().extension().string();
    if (extension == ".yaml" || extension == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(CodecK8sExamplesTest, EveryExampleDecodesValidatesAndRoundTrips) {
  const std::vector<std::filesystem::path> files = ExampleFiles();
  ASSERT_GE(files.size(), 25u);
  int objects = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    const std::string text = ReadFile(file);
    for (const DecodeOptions& options : {DecodeOptions{}, kRawOptions}) {
      ORCH_ASSERT_OK_AND_ASSIGN(auto decoded,
                                DecodeManifests(text, file.filename().string(),
                                                Scheme::Builtin(), options));
      ASSERT_FALSE(decoded.empty());
      for (std::size_t i = 0; i < decoded.size(); ++i) {
        EXPECT_EQ(decoded[i].document, static_cast<int>(i) + 1);
        EXPECT_EQ(decoded[i].object->GetDescriptor(), decoded[i].kind->prototype->GetDescriptor());
        ExpectRoundTrip(*decoded[i].object, options);
        ++objects;
      }
    }
  }
  EXPECT_GE(objects, 2 * 30);
}

template <typename T>
T DecodeExample(std::string_view file, const DecodeOptions& options = kRawOptions) {
  const std::string text =
      ReadFile(std::filesystem::path(ORCH_SOURCE_DIR) / "tests/api/testdata/k8s-examples" / file);
  absl::StatusOr<T> object = DecodeObject<T>(text, file, Scheme::Builtin(), options);
  EXPECT_THAT(object, IsOk());
  return object.ok() ? *object : T();
}

TEST(CodecK8sExamplesTest, DeploymentFieldsLandWhereKubernetesPutsThem) {
  auto deployment = DecodeExample<v1::Deployment>("nginx-deployment.yaml");
  EXPECT_EQ(deployment.api_version(), "apps/v1");
  EXPECT_EQ(deployment.kind(), "Deployment");
  EXPECT_EQ(deployment.metadata().name(), "nginx-deployment");
  EXPECT_EQ(deployment.metadata().labels().at("app.kubernetes.io/name"), "nginx");
  ASSERT_TRUE(deployment.spec().has_replicas());
  EXPECT_EQ(deployment.spec().replicas(), 3);
  EXPECT_EQ(deployment.spec().selector().match_labels().at("app.kubernetes.io/name"), "nginx");
  const auto& container = deployment.spec().template_().spec().containers(0);
  EXPECT_EQ(container.image(), "nginx:1.14.2");
  EXPECT_EQ(container.ports(0).container_port(), 80);
}

TEST(CodecK8sExamplesTest, QuantitiesAreCanonical) {
  auto pod = DecodeExample<v1::Pod>("cpu-request-limit.yaml");
  const auto& resources = pod.spec().containers(0).resources();
  EXPECT_EQ(resources.requests().at("cpu").value(), "500m");  // written "0.5"
  EXPECT_EQ(resources.limits().at("cpu").value(), "1");
  auto memory = DecodeExample<v1::Pod>("memory-request-limit.yaml");
  EXPECT_EQ(memory.spec().containers(0).resources().limits().at("memory").value(), "200Mi");
}

TEST(CodecK8sExamplesTest, IntOrStringKeepsTheFormUsed) {
  auto numeric = DecodeExample<v1::Service>("simple-service.yaml");
  ASSERT_TRUE(numeric.spec().ports(0).target_port().has_int_val());
  EXPECT_EQ(numeric.spec().ports(0).target_port().int_val(), 9376);
  auto named = DecodeExample<v1::Service>("backend-service.yaml");
  ASSERT_TRUE(named.spec().ports(0).target_port().has_str_val());
  EXPECT_EQ(named.spec().ports(0).target_port().str_val(), "http");
}

TEST(CodecK8sExamplesTest, MicroTimeAndExplicitEmptyOptionalString) {
  auto lease = DecodeExample<v1::Lease>("lease-apiserver.yaml");
  EXPECT_EQ(lease.spec().renew_time().nanos(), 65888000);
  EXPECT_EQ(lease.metadata().creation_timestamp().seconds(), 1688303808);
  ORCH_ASSERT_OK_AND_ASSIGN(
      auto decoded,
      DecodeManifests(ReadFile(std::filesystem::path(ORCH_SOURCE_DIR) /
                               "tests/api/testdata/k8s-examples/service-without-selector.yaml"),
                      "f", Scheme::Builtin(), kRawOptions));
  ASSERT_EQ(decoded.size(), 2u);
  const auto& slice = dynamic_cast<const v1::EndpointSlice&>(*decoded[1].object);
  EXPECT_TRUE(slice.ports(0).has_name());  // `name: ''` is present-and-empty
  EXPECT_EQ(slice.ports(0).name(), "");
  EXPECT_EQ(decoded[1].document, 2);
}

TEST(CodecK8sExamplesTest, DefaultsAreAppliedUnlessAskedNotTo) {
  auto raw = DecodeExample<v1::Deployment>("nginx-deployment.yaml");
  EXPECT_FALSE(raw.spec().has_strategy());
  auto defaulted = DecodeExample<v1::Deployment>("nginx-deployment.yaml", DecodeOptions{});
  EXPECT_EQ(defaulted.spec().strategy().type(), "RollingUpdate");
  EXPECT_EQ(defaulted.spec().strategy().rolling_update().max_surge().str_val(), "25%");
}

// ---------------------------------------------------------------------------------------
// Error messages: SOURCE: document N (Kind "name"): FIELD.PATH: problem

constexpr std::string_view kDeploymentHead = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
)";

TEST(CodecErrorTest, UnknownField) {
  std::string text = std::string(kDeploymentHead) + "spec:\n  replica: 3\n";
  EXPECT_THAT(DecodeError(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(R"(web.yaml: document 1 (Deployment "web"): spec: unknown field "replica")")));
  EXPECT_THAT(DecodeError(std::string(kDeploymentHead) + "extra: 1\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(R"(web.yaml: document 1 (Deployment "web"): unknown field "extra")")));
  // Only JSON names: the proto field name is unknown too.
  EXPECT_THAT(DecodeError(std::string(kDeploymentHead) + "spec:\n  min_ready_seconds: 3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(R"(spec: unknown field "min_ready_seconds")")));
}

TEST(CodecErrorTest, BadQuantityInSecondDocument) {
  std::string text = R"(apiVersion: v1
kind: Namespace
metadata:
  name: ns
---
)" + std::string(kDeploymentHead) + R"(spec:
  template:
    spec:
      containers:
      - name: c
        resources:
          limits:
            cpu: two
)";
  EXPECT_THAT(
      DecodeError(text),
      StatusIs(absl::StatusCode::kInvalidArgument,
               StartsWith(R"(web.yaml: document 2 (Deployment "web"): spec.template.spec.containers[0].resources.limits.cpu: invalid quantity "two")")));
}

TEST(CodecErrorTest, WrongTypes) {
  auto spec = [](std::string_view body) { return std::string(kDeploymentHead) + "spec:\n" + std::string(body); };
  EXPECT_THAT(DecodeError(spec("  replicas: three\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(R"(spec.replicas: expected integer, got string "three")")));
  EXPECT_THAT(DecodeError(spec("  replicas: \"3\"\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(R"(spec.replicas: expected integer, got string "3")")));
  EXPECT_THAT(DecodeError(spec("  replicas: 3.5\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.replicas: expected integer, got number 3.5")));
  EXPECT_THAT(DecodeError(spec("  replicas: [1]\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.replicas: expected integer, got array")));
  EXPECT_THAT(DecodeError(spec("  paused: \"true\"\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(R"(spec.paused: expected boolean, got string "true")")));
  EXPECT_THAT(DecodeError(spec("  selector: 3\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.selector: expected object, got number 3")));
  EXPECT_THAT(DecodeError(spec("  template:\n    spec:\n      containers: {}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.template.spec.containers: expected array, got object")));
  // A label value must be a string, as in Kubernetes: quote numbers.
  EXPECT_THAT(DecodeError(std::string(kDeploymentHead) + "  labels:\n    version: 1.0\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metadata.labels.version: expected string, got number 1.0")));
  EXPECT_THAT(DecodeError(std::string(kDeploymentHead) +
                          "  labels:\n    app.kubernetes.io/version: 2\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metadata.labels[app.kubernetes.io/version]: expected string")));
}

TEST(CodecErrorTest, IntegerRanges) {
  auto spec = [](std::string_view body) { return std::string(kDeploymentHead) + "spec:\n" + std::string(body); };
  EXPECT_THAT(DecodeError(spec("  replicas: 2147483648\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.replicas: integer 2147483648 is out of range for int32")));
  EXPECT_THAT(DecodeError(spec("  replicas: 99999999999999999999999999999999999999999999\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range for int32")));
  ORCH_ASSERT_OK_AND_ASSIGN(auto ok, DecodeObject<v1::Deployment>(spec("  replicas: -2147483648\n"),
                                                                  "f", Scheme::Builtin(),
                                                                  kRawOptions));
  EXPECT_EQ(ok.spec().replicas(), -2147483648);
}

TEST(CodecErrorTest, MissingAndUnknownApiVersionAndKind) {
  // Documents are counted from 1, skipping empty ones.
  std::string prefix = "---\n# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n---\n"
                       "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n---\n";
  EXPECT_THAT(DecodeError(prefix + "metadata:\n  name: x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq("web.yaml: document 3: apiVersion: required")));
  EXPECT_THAT(DecodeError(prefix + "apiVersion: v1\nmetadata:\n  name: x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq("web.yaml: document 3: kind: required")));
  EXPECT_THAT(DecodeError(prefix + "apiVersion: apps/v1\nkind: Deploymnt\nmetadata:\n  name: x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(R"(web.yaml: document 3 (Deploymnt "x"): kind: no kind "Deploymnt" is registered for version "apps/v1")")));
  EXPECT_THAT(DecodeError(prefix + "apiVersion: apps/v2\nkind: Deployment\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(R"(web.yaml: document 3 (Deployment): apiVersion: no kinds are registered for version "apps/v2")")));
  EXPECT_THAT(DecodeError(prefix + "apiVersion: 1\nkind: Pod\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("(Pod): apiVersion: expected string, got number 1")));
  EXPECT_THAT(DecodeError(prefix + "- a\n- b\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("web.yaml: document 3: expected an object, got array")));
}

TEST(CodecErrorTest, DuplicateFieldsAndKeys) {
  EXPECT_THAT(DecodeError(std::string(kDeploymentHead) + "spec:\n  replicas: 1\n  replicas: 2\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(R"((Deployment "web"): spec: duplicate field "replicas")")));
  EXPECT_THAT(DecodeError(std::string(kDeploymentHead) + "  labels: {a: x, a: y}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(R"(metadata.labels: duplicate key "a")")));
  EXPECT_THAT(DecodeError(R"({"apiVersion": "v1", "kind": "Pod", "kind": "Pod"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(R"(duplicate field "kind")")));
}

TEST(CodecErrorTest, ValidatorErrorsGetTheDocumentPrefix) {
  std::string text = std::string(kDeploymentHead) + "spec:\n  replicas: -1\n";
  absl::Status status = DecodeError(text, DecodeOptions{});
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               StartsWith(R"(web.yaml: document 1 (Deployment "web"): )")));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.replicas")));
  // Without validation the same object decodes.
  EXPECT_THAT(DecodeError(text, kRawOptions), IsOk());
}

TEST(CodecErrorTest, YamlSyntaxErrorsGiveLineAndColumn) {
  absl::Status status = DecodeError("apiVersion: v1\nkind: Pod\nmetadata: [a, b\n");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               StartsWith("web.yaml: document 1: line ")));
  EXPECT_THAT(DecodeError("a: b\n  c: d\n: :\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2, column")));
  // A good first document is decoded before the syntax error in the second is reported;
  // the error still fails the whole call.
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n{x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("web.yaml: document 2: line")));
}

TEST(CodecErrorTest, StrayCommaDoesNotLoopForever) {
  // yaml-cpp alone would return empty documents forever here.
  EXPECT_THAT(DecodeError(",\n  \"apiVersion\": \"v1\"\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("web.yaml: document 1: line 1, column 1: no document can start here (a stray ',')")));
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n,"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("document 2: line 5, column 1")));
}

TEST(CodecErrorTest, InvalidUtf8IsRefused) {
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"a\xff\"\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid UTF-8")));
}

// ---------------------------------------------------------------------------------------
// Hostile input: bounded, never a crash.

TEST(CodecLimitsTest, DeepNestingIsRefused) {
  EXPECT_THAT(DecodeError(std::string(100000, '[')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nesting deeper than")));
  std::string block;
  for (int i = 0; i < 300; ++i) block += std::string(i, ' ') + "a:\n";
  EXPECT_THAT(DecodeError(block), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeError(std::string(50000, '-') + " x"), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string dashes;
  for (int i = 0; i < 5000; ++i) dashes += "- ";
  EXPECT_THAT(DecodeError(dashes + "x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nesting deeper than")));
}

TEST(CodecLimitsTest, ExponentialAliasesDoNotExpand) {
  // Billion laughs: 2^40 nodes if expanded. Aliases share nodes, and no object field takes
  // nested arrays, so the walk stops at the first one.
  std::string bomb = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n";
  bomb += "    x0: &a0 [\"x\", \"y\"]\n";
  for (int i = 1; i <= 40; ++i) {
    bomb += fmt::format("    x{}: &a{} [*a{}, *a{}]\n", i, i, i - 1, i - 1);
  }
  EXPECT_THAT(DecodeError(bomb), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("metadata.annotations.x0: expected string, got array")));
  std::string args = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n";
  args += "  - name: c\n    args: &a0 [x, x, x, x, x, x, x, x, x, x]\n    command: [*a0, *a0]\n";
  EXPECT_THAT(DecodeError(args), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("spec.containers[0].command[0]: expected string, got array")));
  // Linear aliasing, as people write it, is fine.
  std::string reuse = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n";
  reuse += "  - &c0 {name: a, args: [a, b, c]}\n";
  for (int i = 0; i < 100; ++i) reuse += "  - *c0\n";
  EXPECT_THAT(DecodeError(reuse), IsOk());
}

TEST(CodecLimitsTest, AliasExpansionIsBounded) {
  // 1000 aliases of a container with 100 env vars: each line expands to 300 nodes.
  std::string bomb = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n";
  bomb += "  - &c {name: c, env: [";
  for (int e = 0; e < 100; ++e) bomb += fmt::format("{{name: E{}, value: v}}, ", e);
  bomb += "]}\n";
  for (int c = 0; c < 1000; ++c) bomb += "  - *c\n";
  EXPECT_THAT(DecodeError(bomb), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("excessive aliasing")));
}

TEST(CodecLimitsTest, RecursiveAliasIsRefused) {
  EXPECT_THAT(DecodeError("a: &x [*x]\n"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeError("a: &x {b: *x}\n"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CodecLimitsTest, HugeNumbersAndQuantities) {
  std::string pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n"
                    "    resources:\n      limits:\n        cpu: ";
  EXPECT_THAT(DecodeError(pod + "1e40\n"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr(R"(limits.cpu: invalid quantity "1e40")")));
  EXPECT_THAT(DecodeError(pod + std::string(5000, '9') + "\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid quantity")));
  EXPECT_THAT(DecodeError(pod + "true\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("limits.cpu: expected quantity, got boolean true")));
  EXPECT_THAT(DecodeError(pod + "{}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("limits.cpu: expected quantity, got object")));
}

// ---------------------------------------------------------------------------------------
// Value mapping.

template <typename T>
T Decode(std::string_view text) {
  absl::StatusOr<T> object = DecodeObject<T>(text, "t.yaml", Scheme::Builtin(), kRawOptions);
  EXPECT_THAT(object, IsOk());
  return object.ok() ? *object : T();
}

TEST(CodecValueTest, OptionalPresenceAndNull) {
  auto zero = Decode<v1::Deployment>(std::string(kDeploymentHead) + "spec:\n  replicas: 0\n");
  EXPECT_TRUE(zero.spec().has_replicas());
  EXPECT_EQ(zero.spec().replicas(), 0);
  auto null = Decode<v1::Deployment>(std::string(kDeploymentHead) + "spec:\n  replicas: null\n");
  EXPECT_TRUE(null.has_spec());
  EXPECT_FALSE(null.spec().has_replicas());
  auto tilde = Decode<v1::Deployment>(std::string(kDeploymentHead) + "spec:\n  replicas: ~\n  selector:\n");
  EXPECT_FALSE(tilde.spec().has_replicas());
  EXPECT_FALSE(tilde.spec().has_selector());
  auto empty = Decode<v1::Deployment>(std::string(kDeploymentHead) + "spec: {}\n");
  EXPECT_TRUE(empty.has_spec());
  auto absent = Decode<v1::Deployment>(std::string(kDeploymentHead));
  EXPECT_FALSE(absent.has_spec());
}

TEST(CodecValueTest, BooleansFollowKubernetesYaml) {
  auto pod = [](std::string_view value) {
    return fmt::format("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostNetwork: {}\n", value);
  };
  for (std::string_view yes : {"true", "True", "TRUE", "yes", "Yes", "on", "ON", "y"}) {
    EXPECT_TRUE(Decode<v1::Pod>(pod(yes)).spec().host_network()) << yes;
  }
  for (std::string_view no : {"false", "False", "no", "NO", "off", "n"}) {
    auto decoded = Decode<v1::Pod>(pod(no));
    EXPECT_FALSE(decoded.spec().host_network()) << no;
  }
  EXPECT_THAT(DecodeError(pod("1")), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("expected boolean, got number 1")));
  // The flip side, as in Kubernetes: an unquoted yes/no where a string is expected.
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Pod\nmetadata:\n  name: no\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metadata.name: expected string, got boolean no")));
  EXPECT_EQ(Decode<v1::Pod>("apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"no\"\n").metadata().name(), "no");
}

TEST(CodecValueTest, IntegerForms) {
  auto mode = [](std::string_view value) {
    auto pod = Decode<v1::Pod>(fmt::format(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  volumes:\n  - name: v\n"
        "    configMap:\n      name: c\n      defaultMode: {}\n",
        value));
    return pod.spec().volumes(0).config_map().default_mode();
  };
  EXPECT_EQ(mode("420"), 420);
  EXPECT_EQ(mode("0644"), 420);  // YAML 1.1 octal, as Kubernetes documents for defaultMode
  EXPECT_EQ(mode("0o644"), 420);
  EXPECT_EQ(mode("0x1A4"), 420);
  EXPECT_EQ(mode("0b110100100"), 420);
  EXPECT_EQ(mode("4_20"), 420);
  EXPECT_EQ(mode("+420"), 420);
}

TEST(CodecValueTest, IntOrString) {
  auto strategy = [](std::string_view value) {
    return Decode<v1::Deployment>(std::string(kDeploymentHead) +
                                  fmt::format("spec:\n  strategy:\n    rollingUpdate:\n      maxSurge: {}\n", value))
        .spec().strategy().rolling_update().max_surge();
  };
  EXPECT_EQ(strategy("25%").str_val(), "25%");
  EXPECT_EQ(strategy("1").int_val(), 1);
  EXPECT_TRUE(strategy("0").has_int_val());
  EXPECT_EQ(strategy("\"1\"").str_val(), "1");
  EXPECT_THAT(DecodeError(std::string(kDeploymentHead) + "spec:\n  strategy:\n    rollingUpdate:\n      maxSurge: 1.5\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.strategy.rollingUpdate.maxSurge: expected integer or string, got number 1.5")));
  EXPECT_THAT(DecodeError(std::string(kDeploymentHead) + "spec:\n  strategy:\n    rollingUpdate:\n      maxSurge: 4294967296\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range for int32")));
}

TEST(CodecValueTest, Timestamps) {
  auto created = [](std::string_view value) {
    return Decode<v1::Namespace>(fmt::format(
               "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  creationTimestamp: {}\n", value))
        .metadata().creation_timestamp();
  };
  EXPECT_EQ(created("2024-01-02T03:04:05Z").seconds(), 1704164645);
  EXPECT_EQ(created("\"2024-01-02T05:04:05+02:00\"").seconds(), 1704164645);
  EXPECT_EQ(created("2024-01-02T03:04:05.123456Z").nanos(), 123456000);
  EXPECT_EQ(created("2024-01-02T03:04:05.000000001Z").nanos(), 1);
  EXPECT_EQ(created("0001-01-01T00:00:00Z").seconds(), -62135596800);
  EXPECT_EQ(created("2000-02-29T00:00:00Z").seconds(), 951782400);
  for (std::string_view bad : {"2024-01-02", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
                               "2024-01-02T03:04:05", "2024-01-02 03:04:05Z",
                               "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05.1234567890Z",
                               "0000-12-31T23:59:59Z", "2024-01-02T24:00:00Z"}) {
    EXPECT_THAT(DecodeError(fmt::format("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  creationTimestamp: \"{}\"\n", bad)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("metadata.creationTimestamp: invalid timestamp")))
        << bad;
  }
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  creationTimestamp: 12\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected timestamp string, got number 12")));
}

TEST(CodecValueTest, NullElementsAreZeroValues) {
  auto pod = Decode<v1::Pod>(
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {a: null}\nspec:\n  containers:\n  - null\n  - name: c\n    args: [x, null]\n");
  EXPECT_EQ(pod.metadata().labels().at("a"), "");
  ASSERT_EQ(pod.spec().containers_size(), 2);
  EXPECT_THAT(pod.spec().containers(1).args(), ElementsAre("x", ""));
  ExpectRoundTrip(pod, kRawOptions);
}

TEST(CodecValueTest, JsonInput) {
  auto service = Decode<v1::Service>(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
      "spec":{"ports":[{"port":80,"targetPort":"http"}],"selector":{"app":"x"}}})");
  EXPECT_EQ(service.spec().ports(0).port(), 80);
  EXPECT_EQ(service.spec().ports(0).target_port().str_val(), "http");
  EXPECT_THAT(DecodeError(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":"80"}]}})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(R"(spec.ports[0].port: expected integer, got string "80")")));
}

TEST(CodecValueTest, KindListAsKubectlAccepts) {
  std::string text = R"(apiVersion: v1
kind: List
metadata: {}
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: a
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
---
apiVersion: v1
kind: Namespace
metadata:
  name: b
)";
  ORCH_ASSERT_OK_AND_ASSIGN(auto objects, DecodeManifests(text, "list.yaml", Scheme::Builtin(), kRawOptions));
  ASSERT_EQ(objects.size(), 3u);
  EXPECT_EQ(objects[0].kind->kind, "Namespace");
  EXPECT_EQ(objects[1].kind->kind, "Deployment");
  EXPECT_EQ(objects[0].document, 1);
  EXPECT_EQ(objects[1].document, 1);
  EXPECT_EQ(objects[2].document, 2);
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n  spec:\n    nodeName: 3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(R"(web.yaml: document 1, items[0] (Pod "p"): spec.nodeName: expected string, got number 3)")));
}

TEST(CodecValueTest, OperatorKindsInTheirOwnScheme) {
  Scheme scheme;
  Kind thing;
  thing.group = "example.com";
  thing.version = "v1";
  thing.kind = "Thing";
  thing.plural = "things";
  thing.prototype = &v1::ObjectHeader::default_instance();
  thing.validator = [](const google::protobuf::Message& message) -> absl::Status {
    const auto& header = dynamic_cast<const v1::ObjectHeader&>(message);
    if (header.metadata().name().empty()) return absl::InvalidArgumentError("metadata.name: Required value");
    return absl::OkStatus();
  };
  ASSERT_THAT(scheme.Register(thing), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(auto objects,
                            DecodeManifests("apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\n  labels: {a: b}\n",
                                            "thing.yaml", scheme));
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(&objects[0].object->GetDescriptor()[0], v1::ObjectHeader::descriptor());
  EXPECT_THAT(DecodeManifests("apiVersion: example.com/v1\nkind: Thing\nmetadata: {}\n", "thing.yaml", scheme).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("thing.yaml: document 1 (Thing): metadata.name: Required value")));
  EXPECT_THAT(DecodeManifests("apiVersion: v1\nkind: Pod\n", "thing.yaml", scheme).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no kinds are registered")));
}

TEST(CodecValueTest, DecodeObjectWantsExactlyOneOfItsType) {
  EXPECT_THAT(DecodeObject<v1::Pod>("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n", "x.yaml",
                                    Scheme::Builtin(), kRawOptions),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(R"(x.yaml: document 1: expected a Pod, got kind "Namespace")")));
  EXPECT_THAT(DecodeObject<v1::Pod>("", "x.yaml", Scheme::Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected exactly one object, found 0")));
}

TEST(CodecValueTest, DecodeMessageHandlesAnyMessage) {
  google::protobuf::Field field;
  ASSERT_THAT(DecodeMessage("kind: TYPE_STRING\nnumber: 7\njsonName: x\npacked: yes\noptions: [{name: o}]\n",
                            "f.yaml", field),
              IsOk());
  EXPECT_EQ(field.kind(), google::protobuf::Field::TYPE_STRING);
  EXPECT_EQ(field.number(), 7);
  EXPECT_TRUE(field.packed());
  EXPECT_EQ(field.options(0).name(), "o");
  ASSERT_THAT(DecodeMessage("kind: 9\n", "f.yaml", field), IsOk());  // enums by number too
  EXPECT_EQ(field.kind(), google::protobuf::Field::TYPE_STRING);
  EXPECT_THAT(DecodeMessage("kind: TYPE_NOPE\n", "f.yaml", field),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("f.yaml: kind: expected one of TYPE_UNKNOWN")));
  EXPECT_THAT(DecodeMessage("number: 1\n---\nnumber: 2\n", "f.yaml", field),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("single document")));
  ASSERT_THAT(DecodeMessage("# nothing\n", "f.yaml", field), IsOk());
  EXPECT_EQ(field.number(), 0);

  google::protobuf::BytesValue bytes;
  ASSERT_THAT(DecodeMessage("value: aGVsbG8=\n", "b.yaml", bytes), IsOk());
  EXPECT_EQ(bytes.value(), "hello");
  ORCH_ASSERT_OK_AND_ASSIGN(std::string json, EncodeJson(bytes));
  EXPECT_EQ(json, R"({"value":"aGVsbG8="})");
  EXPECT_THAT(DecodeMessage("value: \"!!\"\n", "b.yaml", bytes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid base64")));
  google::protobuf::DoubleValue number;
  ASSERT_THAT(DecodeMessage("value: 1.5e3\n", "d.yaml", number), IsOk());
  EXPECT_EQ(number.value(), 1500);
  EXPECT_THAT(DecodeMessage("value: .inf\n", "d.yaml", number),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected finite number")));
}

// ---------------------------------------------------------------------------------------
// Encoding.

TEST(CodecEncodeTest, YamlShape) {
  v1::Deployment deployment;
  deployment.set_api_version("apps/v1");
  deployment.set_kind("Deployment");
  deployment.mutable_metadata()->set_name("web");
  (*deployment.mutable_metadata()->mutable_labels())["b"] = "2";
  (*deployment.mutable_metadata()->mutable_labels())["a"] = "true";
  deployment.mutable_spec()->set_replicas(0);
  auto* container = deployment.mutable_spec()->mutable_template_()->mutable_spec()->add_containers();
  container->set_name("web");
  container->set_image("nginx:1.14.2");
  container->add_args("--port=80");
  container->add_args("");
  container->add_args("say \"hi\"\n");
  container->add_ports()->set_container_port(80);
  (*container->mutable_resources()->mutable_limits())["cpu"].set_value("500m");
  deployment.mutable_spec()->mutable_template_()->mutable_metadata();
  ORCH_ASSERT_OK_AND_ASSIGN(std::string yaml, EncodeYaml(deployment));
  EXPECT_EQ(yaml, R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    a: "true"
    b: "2"
spec:
  replicas: 0
  template:
    metadata: {}
    spec:
      containers:
      - name: web
        image: nginx:1.14.2
        args:
        - --port=80
        - ""
        - "say \"hi\"\n"
        ports:
        - containerPort: 80
        resources:
          limits:
            cpu: 500m
)");
  ORCH_ASSERT_OK_AND_ASSIGN(std::string json, EncodeJson(deployment));
  EXPECT_EQ(json,
            R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"a":"true","b":"2"}},)"
            R"("spec":{"replicas":0,"template":{"metadata":{},"spec":{"containers":[{"name":"web","image":"nginx:1.14.2",)"
            R"("args":["--port=80","","say \"hi\"\n"],"ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"500m"}}}]}}}})");
  ORCH_ASSERT_OK_AND_ASSIGN(std::string pretty, EncodeJson(v1::ObjectHeader(), true));
  EXPECT_EQ(pretty, "{}");
  ExpectRoundTrip(deployment, kRawOptions);
}

TEST(CodecEncodeTest, TrickyStringsRoundTrip) {
  v1::Namespace ns;
  ns.set_api_version("v1");
  ns.set_kind("Namespace");
  ns.mutable_metadata()->set_name("n");
  auto& annotations = *ns.mutable_metadata()->mutable_annotations();
  int i = 0;
  const std::vector<std::string> values = {"true", "yes", "No", "~", "null", "1", "1.0", "0x10", "0644", ".inf", "-", "--", "---", "...",
        "a: b", "a:", "#x", "x #y", " lead", "trail ", "tab\there", "2001-12-14", "12:30", "@at",
        "*star", "&amp", "!bang", "%pct", "{a}", "[a]", "'q'", "\"dq\"", "back\\slash", "line\nbreak",
        "\r", std::string("nul\0byte", 8), "\x7f", "\u0085", "\u2028", "\uFEFF", "é ☃ 𝄞",
        "\xef\xbf\xbe", "a,b", "=", "<<", "?", "|", ">", "", "ünïcode"};
  for (const std::string& value : values) {
    annotations[fmt::format("k{}", i++)] = value;
    annotations[value.empty() ? "empty" : value] = "v";
  }
  ExpectRoundTrip(ns, kRawOptions);
}

TEST(CodecEncodeTest, KeysLongerThanYamlAllowsAreRefusedBothWays) {
  v1::Namespace ns;
  ns.set_api_version("v1");
  ns.set_kind("Namespace");
  ns.mutable_metadata()->set_name(std::string(5000, 'n'));  // long values are fine
  (*ns.mutable_metadata()->mutable_labels())[std::string(998, 'k')] = std::string(3000, 'v');
  ExpectRoundTrip(ns, kRawOptions);
  (*ns.mutable_metadata()->mutable_labels())[std::string(999, 'k')] = "v";
  EXPECT_THAT(EncodeYaml(ns), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("map key longer than 1000 characters")));
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Namespace\nmetadata:\n  labels:\n    ? " +
                          std::string(1200, 'k') + "\n    : v\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("mapping key longer than 1000 characters")));
}

TEST(CodecEncodeTest, TimestampsRoundTripAtEveryPrecision) {
  v1::Lease lease;
  lease.set_api_version("coordination.k8s.io/v1");
  lease.set_kind("Lease");
  lease.mutable_spec()->mutable_acquire_time()->set_seconds(-62135596800);
  lease.mutable_spec()->mutable_renew_time()->set_seconds(253402300799);
  lease.mutable_spec()->mutable_renew_time()->set_nanos(999999999);
  lease.mutable_metadata()->mutable_creation_timestamp()->set_nanos(1000);
  ExpectRoundTrip(lease, kRawOptions);
  ORCH_ASSERT_OK_AND_ASSIGN(std::string yaml, EncodeYaml(lease));
  EXPECT_THAT(yaml, HasSubstr("creationTimestamp: \"1970-01-01T00:00:00.000001Z\""));
  EXPECT_THAT(yaml, HasSubstr("acquireTime: \"0001-01-01T00:00:00Z\""));
  EXPECT_THAT(yaml, HasSubstr("renewTime: \"9999-12-31T23:59:59.999999999Z\""));
  lease.mutable_spec()->mutable_renew_time()->set_seconds(253402300800);
  EXPECT_THAT(EncodeYaml(lease), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("spec.renewTime: timestamp is outside years 0001-9999")));
}

TEST(CodecEncodeTest, RefusesWhatNoManifestCanHold) {
  v1::Namespace ns;
  ns.mutable_metadata()->set_name("bad\xff");
  EXPECT_THAT(EncodeJson(ns), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("metadata.name: string is not valid UTF-8")));
  google::protobuf::DoubleValue nan;
  nan.set_value(std::numeric_limits<double>::quiet_NaN());
  EXPECT_THAT(EncodeYaml(nan), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not finite")));
}

TEST(CodecEncodeTest, NumbersRoundTripThroughDecodeMessage) {
  for (double value : {0.0, -0.0, 0.1, 1e300, -2.5e-300, 123456789.125, 1e21}) {
    google::protobuf::DoubleValue in;
    in.set_value(value);
    ORCH_ASSERT_OK_AND_ASSIGN(std::string yaml, EncodeYaml(in));
    google::protobuf::DoubleValue out;
    ASSERT_THAT(DecodeMessage(yaml, "d", out), IsOk()) << yaml;
    EXPECT_EQ(std::signbit(out.value()), std::signbit(value)) << yaml;
    EXPECT_EQ(out.value(), value) << yaml;
  }
  google::protobuf::Int64Value big;
  big.set_value(std::numeric_limits<int64_t>::min());
  ORCH_ASSERT_OK_AND_ASSIGN(std::string json, EncodeJson(big));
  google::protobuf::Int64Value back;
  ASSERT_THAT(DecodeMessage(json, "i", back), IsOk());
  EXPECT_EQ(back.value(), big.value());
  google::protobuf::UInt64Value huge;
  ASSERT_THAT(DecodeMessage("value: 18446744073709551615\n", "u", huge), IsOk());
  EXPECT_EQ(huge.value(), std::numeric_limits<uint64_t>::max());
  EXPECT_THAT(DecodeMessage("value: -1\n", "u", huge),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range for uint64")));
}

}  // namespace
}  // namespace orch::api

#include "orch/api/validation.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/defaults.h"
#include "support/status_matchers.h"

namespace orch::api {
namespace {

using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kSubdomainMessage[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character";
constexpr char kLabelMessage[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character";

::testing::Matcher<absl::Status> InvalidWith(const std::string& text) {
  return StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(text));
}

// --- name and value checks ------------------------------------------------------------

TEST(NameRulesTest, DNS1123Subdomain) {
  for (const char* good : {"a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "a.a",
                           "a.b.c", "11.22.33", "a-b.c-d"}) {
    EXPECT_THAT(IsDNS1123Subdomain(good), IsEmpty()) << good;
  }
  for (const char* bad : {"", "A", "ABC", "aBc", "A1", "-", "a-", "-a", "1-", "_", "a_", "a..a",
                          ".a", "a.", "a@b", "a,b", "a b", "a.-a", "a-.a"}) {
    EXPECT_THAT(IsDNS1123Subdomain(bad), SizeIs(1)) << bad;
  }
  EXPECT_THAT(IsDNS1123Subdomain(std::string(253, 'a')), IsEmpty());
  EXPECT_THAT(IsDNS1123Subdomain(std::string(254, 'a')),
              ::testing::ElementsAre("must be no more than 253 characters"));
  EXPECT_EQ(IsDNS1123Subdomain("Web")[0],
            std::string(kSubdomainMessage) +
                " (e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
}

TEST(NameRulesTest, DNS1123Label) {
  for (const char* good : {"a", "ab", "a1", "a-1", "a--1--2--b", "0", "01", "1-2"}) {
    EXPECT_THAT(IsDNS1123Label(good), IsEmpty()) << good;
  }
  for (const char* bad : {"", "A", "-", "a-", "-a", "_", "a_", "a b", "a@b"}) {
    EXPECT_THAT(IsDNS1123Label(bad), SizeIs(1)) << bad;
  }
  EXPECT_THAT(IsDNS1123Label("a.b"), ::testing::ElementsAre("must not contain dots"));
  EXPECT_THAT(IsDNS1123Label(std::string(63, 'a')), IsEmpty());
  EXPECT_THAT(IsDNS1123Label(std::string(64, 'a')), SizeIs(1));
  EXPECT_EQ(IsDNS1123Label("A")[0],
            std::string(kLabelMessage) +
                " (e.g. 'my-name',  or '123-abc', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
}

TEST(NameRulesTest, DNS1035Label) {
  for (const char* good : {"a", "ab", "a1", "a-1", "a--1--2--b"}) {
    EXPECT_THAT(IsDNS1035Label(good), IsEmpty()) << good;
  }
  for (const char* bad : {"", "0", "01", "1a", "1-", "A", "-", "a-", "a.b", "a_b"}) {
    EXPECT_THAT(IsDNS1035Label(bad), Not(IsEmpty())) << bad;
  }
  EXPECT_THAT(IsDNS1035Label("9web")[0], HasSubstr("start with an alphabetic character"));
}

TEST(NameRulesTest, QualifiedNames) {
  for (const char* good :
       {"simple", "now-with-dashes", "1-starts-with-num", "1234", "simple/simple",
        "now-with-dashes/simple", "now-with-dashes/now-with-dashes", "now.with.dots/simple",
        "now-with.dashes-and.dots/simple", "1-num.2-num/3-num", "1234/5678", "1.2.3.4/5678",
        "Uppercase_Is_OK_123", "example.com/Uppercase_Is_OK_123", "requests.storage-foo",
        "a.b.c/app.kubernetes.io"}) {
    EXPECT_THAT(IsQualifiedName(good), IsEmpty()) << good;
  }
  for (const char* bad : {"nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-",
                          "only/one/slash", "Example.com/abc", "example_com/abc",
                          "example.com/", "/simple", "", "a/b/c"}) {
    EXPECT_THAT(IsQualifiedName(bad), Not(IsEmpty())) << bad;
  }
  EXPECT_THAT(IsQualifiedName(std::string(63, 'a')), IsEmpty());
  EXPECT_THAT(IsQualifiedName(std::string(64, 'a')),
              ::testing::Contains("name part must be no more than 63 characters"));
  EXPECT_THAT(IsQualifiedName("/simple"), ::testing::Contains("prefix part must be non-empty"));
  EXPECT_THAT(IsQualifiedName("Example.com/abc")[0], HasSubstr("prefix part a lowercase RFC 1123"));
  EXPECT_THAT(IsQualifiedName("a/b/c")[0], HasSubstr("with an optional DNS subdomain prefix"));
}

TEST(NameRulesTest, LabelValues) {
  for (const char* good : {"", "simple", "now-with-dashes", "1-starts-with-num",
                           "end-with-num-1", "1234", "MixedCase", "dots.and_underscores"}) {
    EXPECT_THAT(IsValidLabelValue(good), IsEmpty()) << good;
  }
  for (const char* bad : {"nospecialchars%^=@", "Tama-nui-te-rā.is.Māori.sun",
                          "\\backslashes\\are\\bad", "-starts-with-dash", "ends-with-dash-",
                          ".starts.with.dot", "ends.with.dot.", "a b"}) {
    EXPECT_THAT(IsValidLabelValue(bad), Not(IsEmpty())) << bad;
  }
  EXPECT_THAT(IsValidLabelValue(std::string(64, 'a')),
              ::testing::ElementsAre("must be no more than 63 characters"));
}

TEST(NameRulesTest, PortNamesAndNumbers) {
  for (const char* good : {"telnet", "re-mail-ck", "pop3", "a", "a-1", "1-a", "a-1-b-2-c-3"}) {
    EXPECT_THAT(IsValidPortName(good), IsEmpty()) << good;
  }
  EXPECT_THAT(IsValidPortName("longerthan15characters"), Not(IsEmpty()));
  EXPECT_THAT(IsValidPortName(""), Not(IsEmpty()));
  EXPECT_THAT(IsValidPortName("12345"), ::testing::Contains("must contain at least one letter (a-z)"));
  EXPECT_THAT(IsValidPortName("a--b"), ::testing::Contains("must not contain consecutive hyphens"));
  EXPECT_THAT(IsValidPortName("-a"), ::testing::Contains("must not begin or end with a hyphen"));
  EXPECT_THAT(IsValidPortName("Http"), Not(IsEmpty()));
  EXPECT_THAT(IsValidPortNum(1), IsEmpty());
  EXPECT_THAT(IsValidPortNum(65535), IsEmpty());
  EXPECT_THAT(IsValidPortNum(0), ::testing::ElementsAre("must be between 1 and 65535, inclusive"));
  EXPECT_THAT(IsValidPortNum(65536), SizeIs(1));
  EXPECT_THAT(IsValidPortNum(-1), SizeIs(1));
}

TEST(NameRulesTest, PercentAndIP) {
  EXPECT_THAT(IsValidPercent("0%"), IsEmpty());
  EXPECT_THAT(IsValidPercent("100%"), IsEmpty());
  for (const char* bad : {"", "%", "25", "25 %", "-1%", "1.5%", "a%"}) {
    EXPECT_THAT(IsValidPercent(bad), SizeIs(1)) << bad;
  }
  EXPECT_THAT(IsValidIP("10.0.0.1"), IsEmpty());
  EXPECT_THAT(IsValidIP("2001:db8::ffff"), IsEmpty());
  EXPECT_THAT(IsValidIP("10.0.0.256"), SizeIs(1));
  EXPECT_THAT(IsValidIP("not-an-ip"), SizeIs(1));
}

// --- field errors ---------------------------------------------------------------------

TEST(FieldErrorsTest, KubernetesFormats) {
  FieldErrors errors;
  EXPECT_THAT(errors.ToStatus(), IsOk());
  errors.Invalid("spec.replicas", -1, "must be greater than or equal to 0");
  errors.Invalid("metadata.name", "Web", "bad");
  errors.Required("spec.selector");
  errors.Required("metadata.name", "name or generateName is required");
  errors.Duplicate("spec.containers[1].name", "web");
  errors.NotFound("spec.containers[0].volumeMounts[0].name", "data");
  errors.NotSupported("spec.restartPolicy", "Sometimes", {"Always", "OnFailure", "Never"});
  errors.Forbidden("metadata.namespace", "not allowed on this type");
  errors.TooLong("metadata.annotations", 262144);
  errors.TooMany("endpoints", 1001, 1000);
  EXPECT_THAT(errors.errors(),
              ::testing::ElementsAre(
                  "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                  "metadata.name: Invalid value: \"Web\": bad", "spec.selector: Required value",
                  "metadata.name: Required value: name or generateName is required",
                  "spec.containers[1].name: Duplicate value: \"web\"",
                  "spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
                  "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: "
                  "\"Always\", \"OnFailure\", \"Never\"",
                  "metadata.namespace: Forbidden: not allowed on this type",
                  "metadata.annotations: Too long: may not be more than 262144 bytes",
                  "endpoints: Too many: 1001: must have at most 1000 items"));
  EXPECT_THAT(errors.ToStatus(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("must be greater than or equal to 0; metadata.name"),
                             HasSubstr("; endpoints: Too many"))));
}

TEST(FieldErrorsTest, QuotesLikeGo) {
  FieldErrors errors;
  errors.Invalid("x", "a\"b\\c\n\x01", "d");
  EXPECT_EQ(errors.errors()[0], "x: Invalid value: \"a\\\"b\\\\c\\n\\x01\": d");
}

TEST(FieldPathTest, Builders) {
  EXPECT_EQ(Child("", "metadata"), "metadata");
  EXPECT_EQ(Child("spec", "replicas"), "spec.replicas");
  EXPECT_EQ(Index("spec.containers", 2), "spec.containers[2]");
  EXPECT_EQ(Key("spec.nodeSelector", "zone"), "spec.nodeSelector[zone]");
}

// --- helpers to build valid objects ---------------------------------------------------

v1::Container MakeContainer(std::string name, std::string image = "nginx:1.25") {
  v1::Container c;
  c.set_name(std::move(name));
  c.set_image(std::move(image));
  return c;
}

v1::Pod ValidPod() {
  v1::Pod pod;
  pod.mutable_metadata()->set_name("web-0");
  *pod.mutable_spec()->add_containers() = MakeContainer("web");
  SetDefaults(pod);
  return pod;
}

v1::Deployment ValidDeployment() {
  v1::Deployment d;
  d.mutable_metadata()->set_name("web");
  (*d.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "web";
  auto* tmpl = d.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = "web";
  (*tmpl->mutable_metadata()->mutable_labels())["tier"] = "frontend";
  *tmpl->mutable_spec()->add_containers() = MakeContainer("web");
  SetDefaults(d);
  return d;
}

v1::ReplicaSet ValidReplicaSet() {
  v1::ReplicaSet rs;
  rs.mutable_metadata()->set_name("web-5d8f7");
  (*rs.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "web";
  auto* tmpl = rs.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = "web";
  *tmpl->mutable_spec()->add_containers() = MakeContainer("web");
  SetDefaults(rs);
  return rs;
}

v1::Service ValidService() {
  v1::Service svc;
  svc.mutable_metadata()->set_name("web");
  (*svc.mutable_spec()->mutable_selector())["app"] = "web";
  auto* port = svc.mutable_spec()->add_ports();
  port->set_port(80);
  port->mutable_target_port()->set_int_val(8080);
  SetDefaults(svc);
  return svc;
}

// Runs `mutate` on a valid pod and expects validation to fail with `message`.
void ExpectPodError(const std::function<void(v1::Pod&)>& mutate, const std::string& message) {
  v1::Pod pod = ValidPod();
  mutate(pod);
  EXPECT_THAT(Validate(pod), InvalidWith(message)) << pod.ShortDebugString();
}

// --- metadata -------------------------------------------------------------------------

TEST(ObjectMetaValidationTest, ValidObjectsPass) {
  EXPECT_THAT(Validate(ValidPod()), IsOk());
  EXPECT_THAT(Validate(ValidDeployment()), IsOk());
  EXPECT_THAT(Validate(ValidReplicaSet()), IsOk());
  EXPECT_THAT(Validate(ValidService()), IsOk());
}

TEST(ObjectMetaValidationTest, NameRules) {
  ExpectPodError([](v1::Pod& p) { p.mutable_metadata()->set_name("Web"); },
                 std::string("metadata.name: Invalid value: \"Web\": ") + kSubdomainMessage);
  ExpectPodError([](v1::Pod& p) { p.mutable_metadata()->clear_name(); },
                 "metadata.name: Required value: name or generateName is required");
  ExpectPodError(
      [](v1::Pod& p) {
        p.mutable_metadata()->clear_name();
        p.mutable_metadata()->set_generate_name("Web-");
      },
      "metadata.generateName: Invalid value: \"Web-\"");
  v1::Pod generated = ValidPod();
  generated.mutable_metadata()->clear_name();
  generated.mutable_metadata()->set_generate_name("web-");  // trailing dash is fine
  EXPECT_THAT(Validate(generated), IsOk());
  v1::Pod dotted = ValidPod();
  dotted.mutable_metadata()->set_name("web.example.com");  // pods take subdomains
  EXPECT_THAT(Validate(dotted), IsOk());
}

TEST(ObjectMetaValidationTest, NamespaceRules) {
  ExpectPodError([](v1::Pod& p) { p.mutable_metadata()->clear_namespace_(); },
                 "metadata.namespace: Required value");
  ExpectPodError([](v1::Pod& p) { p.mutable_metadata()->set_namespace_("team.a"); },
                 "metadata.namespace: Invalid value: \"team.a\": must not contain dots");
  v1::Node node;
  node.mutable_metadata()->set_name("node-1");
  node.mutable_metadata()->set_namespace_("default");
  EXPECT_THAT(Validate(node),
              InvalidWith("metadata.namespace: Forbidden: not allowed on this type"));
}

TEST(ObjectMetaValidationTest, LabelsAndAnnotations) {
  ExpectPodError(
      [](v1::Pod& p) { (*p.mutable_metadata()->mutable_labels())["bad key!"] = "v"; },
      "metadata.labels: Invalid value: \"bad key!\": name part must consist of alphanumeric");
  ExpectPodError(
      [](v1::Pod& p) { (*p.mutable_metadata()->mutable_labels())["app"] = "-bad"; },
      "metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string or "
      "consist of alphanumeric characters");
  ExpectPodError(
      [](v1::Pod& p) {
        (*p.mutable_metadata()->mutable_labels())["app"] = std::string(64, 'x');
      },
      "must be no more than 63 characters");
  ExpectPodError(
      [](v1::Pod& p) { (*p.mutable_metadata()->mutable_annotations())["a/b/c"] = "v"; },
      "metadata.annotations: Invalid value: \"a/b/c\"");
  ExpectPodError(
      [](v1::Pod& p) {
        (*p.mutable_metadata()->mutable_annotations())["big"] = std::string(300 * 1024, 'x');
      },
      "metadata.annotations: Too long: may not be more than 262144 bytes");
  v1::Pod ok = ValidPod();
  (*ok.mutable_metadata()->mutable_labels())["app.kubernetes.io/name"] = "web";
  (*ok.mutable_metadata()->mutable_labels())["empty"] = "";
  (*ok.mutable_metadata()->mutable_annotations())["Example.com/Note"] = "any text at all";
  EXPECT_THAT(Validate(ok), IsOk());
}

TEST(ObjectMetaValidationTest, OwnerReferencesAndFinalizers) {
  ExpectPodError(
      [](v1::Pod& p) {
        auto* owner = p.mutable_metadata()->add_owner_references();
        owner->set_api_version("apps/v1");
        owner->set_kind("ReplicaSet");
        owner->set_name("web-1");
      },
      "metadata.ownerReferences[0].uid: Invalid value: \"\": must not be empty");
  ExpectPodError(
      [](v1::Pod& p) {
        for (const char* name : {"a", "b"}) {
          auto* owner = p.mutable_metadata()->add_owner_references();
          owner->set_api_version("apps/v1");
          owner->set_kind("ReplicaSet");
          owner->set_name(name);
          owner->set_uid(name);
          owner->set_controller(true);
        }
      },
      "Only one reference can have Controller set to true. Found \"true\" in references for "
      "ReplicaSet/a and ReplicaSet/b");
  ExpectPodError([](v1::Pod& p) { p.mutable_metadata()->add_finalizers("bad finalizer"); },
                 "metadata.finalizers: Invalid value: \"bad finalizer\"");
  ExpectPodError([](v1::Pod& p) { p.mutable_metadata()->set_generation(-1); },
                 "metadata.generation: Invalid value: -1");
}

// --- pods -----------------------------------------------------------------------------

TEST(PodValidationTest, Containers) {
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->clear_containers(); },
                 "spec.containers: Required value");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->mutable_containers(0)->clear_name(); },
                 "spec.containers[0].name: Required value");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->mutable_containers(0)->set_name("Web"); },
                 std::string("spec.containers[0].name: Invalid value: \"Web\": ") + kLabelMessage);
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->mutable_containers(0)->clear_image(); },
                 "spec.containers[0].image: Required value");
  ExpectPodError(
      [](v1::Pod& p) {
        auto* c = p.mutable_spec()->add_containers();
        *c = MakeContainer("web");
        SetContainerDefaults(*c);
      },
      "spec.containers[1].name: Duplicate value: \"web\"");
  ExpectPodError(
      [](v1::Pod& p) {
        auto* c = p.mutable_spec()->add_init_containers();
        *c = MakeContainer("web");
        SetContainerDefaults(*c);
      },
      "spec.containers[0].name: Duplicate value: \"web\"");
  ExpectPodError(
      [](v1::Pod& p) { p.mutable_spec()->mutable_containers(0)->set_image_pull_policy("Sometimes"); },
      "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: "
      "\"Always\", \"IfNotPresent\", \"Never\"");
  ExpectPodError(
      [](v1::Pod& p) {
        p.mutable_spec()->mutable_containers(0)->set_termination_message_policy("Stderr");
      },
      "spec.containers[0].terminationMessagePolicy: Invalid value: \"Stderr\": must be 'File' "
      "or 'FallbackToLogsOnError'");
  ExpectPodError(
      [](v1::Pod& p) { p.mutable_spec()->mutable_containers(0)->set_restart_policy("Always"); },
      "spec.containers[0].restartPolicy: Forbidden");
}

TEST(PodValidationTest, Ports) {
  auto with_port = [](int container_port, std::string name = "", std::string protocol = "TCP") {
    return [=](v1::Pod& p) {
      auto* port = p.mutable_spec()->mutable_containers(0)->add_ports();
      port->set_container_port(container_port);
      port->set_name(name);
      port->set_protocol(protocol);
    };
  };
  ExpectPodError(with_port(0), "spec.containers[0].ports[0].containerPort: Required value");
  ExpectPodError(with_port(70000),
                 "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be "
                 "between 1 and 65535, inclusive");
  ExpectPodError(with_port(80, "HTTP"),
                 "spec.containers[0].ports[0].name: Invalid value: \"HTTP\": must contain only "
                 "alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  ExpectPodError(with_port(80, "a-very-long-port-name"),
                 "must be no more than 15 characters");
  ExpectPodError(with_port(80, "http", "ICMP"),
                 "spec.containers[0].ports[0].protocol: Unsupported value: \"ICMP\": supported "
                 "values: \"SCTP\", \"TCP\", \"UDP\"");
  ExpectPodError(
      [&](v1::Pod& p) {
        with_port(80, "http")(p);
        with_port(81, "http")(p);
      },
      "spec.containers[0].ports[1].name: Duplicate value: \"http\"");
  ExpectPodError(
      [&](v1::Pod& p) {
        p.mutable_spec()->set_host_network(true);
        with_port(80)(p);
        p.mutable_spec()->mutable_containers(0)->mutable_ports(0)->set_host_port(8080);
      },
      "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` "
      "when `hostNetwork` is true");
  v1::Pod ok = ValidPod();
  with_port(8080, "http")(ok);
  with_port(53, "dns", "UDP")(ok);
  EXPECT_THAT(Validate(ok), IsOk());
}

TEST(PodValidationTest, PodLevelEnums) {
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->set_restart_policy("Sometimes"); },
                 "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: "
                 "\"Always\", \"OnFailure\", \"Never\"");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->clear_restart_policy(); },
                 "spec.restartPolicy: Required value");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->set_dns_policy("Google"); },
                 "spec.dnsPolicy: Unsupported value: \"Google\"");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->set_dns_policy("None"); },
                 "spec.dnsConfig: Required value");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->set_active_deadline_seconds(0); },
                 "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and "
                 "4294967295, inclusive");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->set_termination_grace_period_seconds(-5); },
                 "spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than "
                 "or equal to 0");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->set_node_name("Node_1"); },
                 "spec.nodeName: Invalid value: \"Node_1\"");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->set_hostname("a.b"); },
                 "spec.hostname: Invalid value: \"a.b\": must not contain dots");
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->set_preemption_policy("Always"); },
                 "spec.preemptionPolicy: Unsupported value: \"Always\"");
  ExpectPodError(
      [](v1::Pod& p) { (*p.mutable_spec()->mutable_node_selector())["zone"] = "us east"; },
      "spec.nodeSelector: Invalid value: \"us east\"");
  for (const char* policy : {"Always", "OnFailure", "Never"}) {
    v1::Pod ok = ValidPod();
    ok.mutable_spec()->set_restart_policy(policy);
    EXPECT_THAT(Validate(ok), IsOk()) << policy;
  }
}

TEST(PodValidationTest, Resources) {
  auto set = [](v1::Pod& p, const char* list, const char* name, const char* value) {
    auto* r = p.mutable_spec()->mutable_containers(0)->mutable_resources();
    auto* map = std::string(list) == "limits" ? r->mutable_limits() : r->mutable_requests();
    (*map)[name].set_value(value);
  };
  ExpectPodError(
      [&](v1::Pod& p) {
        set(p, "requests", "cpu", "2");
        set(p, "limits", "cpu", "1");
      },
      "spec.containers[0].resources.requests[cpu]: Invalid value: \"2\": must be less than or "
      "equal to cpu limit of 1");
  ExpectPodError(
      [&](v1::Pod& p) {
        set(p, "requests", "memory", "2Gi");
        set(p, "limits", "memory", "1Gi");
      },
      "must be less than or equal to memory limit of 1Gi");
  ExpectPodError([&](v1::Pod& p) { set(p, "requests", "cpu", "-1"); },
                 "spec.containers[0].resources.requests[cpu]: Invalid value: \"-1\": must be "
                 "greater than or equal to 0");
  ExpectPodError([&](v1::Pod& p) { set(p, "limits", "cpu", "lots"); },
                 "spec.containers[0].resources.limits[cpu]: Invalid value: \"lots\": invalid "
                 "quantity \"lots\"");
  v1::Pod ok = ValidPod();
  set(ok, "requests", "cpu", "500m");
  set(ok, "limits", "cpu", "1");
  set(ok, "requests", "memory", "1Gi");
  set(ok, "limits", "memory", "1Gi");
  EXPECT_THAT(Validate(ok), IsOk());
}

TEST(PodValidationTest, Probes) {
  auto probe = [](v1::Pod& p) { return p.mutable_spec()->mutable_containers(0)->mutable_liveness_probe(); };
  ExpectPodError(
      [&](v1::Pod& p) {
        probe(p);
        SetProbeDefaults(*probe(p));
      },
      "spec.containers[0].livenessProbe: Required value: must specify a handler type");
  ExpectPodError(
      [&](v1::Pod& p) {
        probe(p)->mutable_exec()->add_command("true");
        probe(p)->mutable_tcp_socket()->mutable_port()->set_int_val(80);
        SetProbeDefaults(*probe(p));
      },
      "spec.containers[0].livenessProbe: Forbidden: may not specify more than 1 handler type");
  ExpectPodError(
      [&](v1::Pod& p) {
        probe(p)->mutable_exec()->add_command("true");
        SetProbeDefaults(*probe(p));
        probe(p)->set_success_threshold(2);
      },
      "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1");
  ExpectPodError(
      [&](v1::Pod& p) {
        probe(p)->mutable_exec()->add_command("true");
        SetProbeDefaults(*probe(p));
        probe(p)->set_initial_delay_seconds(-1);
      },
      "spec.containers[0].livenessProbe.initialDelaySeconds: Invalid value: -1: must be "
      "greater than or equal to 0");
  ExpectPodError(
      [&](v1::Pod& p) {
        probe(p)->mutable_exec();
        SetProbeDefaults(*probe(p));
      },
      "spec.containers[0].livenessProbe.exec.command: Required value");
  ExpectPodError(
      [&](v1::Pod& p) {
        probe(p)->mutable_http_get()->mutable_port()->set_int_val(0);
        SetProbeDefaults(*probe(p));
      },
      "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and "
      "65535, inclusive");
  ExpectPodError(
      [&](v1::Pod& p) {
        probe(p)->mutable_http_get()->mutable_port()->set_str_val("Web_Port");
        SetProbeDefaults(*probe(p));
      },
      "spec.containers[0].livenessProbe.httpGet.port: Invalid value: \"Web_Port\"");
  ExpectPodError(
      [&](v1::Pod& p) {
        probe(p)->mutable_http_get()->mutable_port()->set_int_val(80);
        SetProbeDefaults(*probe(p));
        probe(p)->mutable_http_get()->set_scheme("FTP");
      },
      "spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: \"FTP\"");
  ExpectPodError(
      [&](v1::Pod& p) {
        auto* r = p.mutable_spec()->mutable_containers(0)->mutable_readiness_probe();
        r->mutable_exec()->add_command("true");
        SetProbeDefaults(*r);
        r->set_termination_grace_period_seconds(10);
      },
      "spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 10: "
      "must not be set for readinessProbes");
  ExpectPodError(
      [&](v1::Pod& p) {
        auto* c = p.mutable_spec()->add_init_containers();
        *c = MakeContainer("init");
        c->mutable_liveness_probe()->mutable_exec()->add_command("true");
        SetContainerDefaults(*c);
      },
      "spec.initContainers[0].livenessProbe: Forbidden");

  v1::Pod ok = ValidPod();
  auto* c = ok.mutable_spec()->mutable_containers(0);
  c->mutable_liveness_probe()->mutable_http_get()->mutable_port()->set_str_val("http");
  c->mutable_readiness_probe()->mutable_tcp_socket()->mutable_port()->set_int_val(8080);
  c->mutable_readiness_probe()->set_success_threshold(3);  // fine for readiness
  c->mutable_startup_probe()->mutable_grpc()->set_port(9000);
  SetContainerDefaults(*c);
  EXPECT_THAT(Validate(ok), IsOk());
}

TEST(PodValidationTest, VolumesAndMounts) {
  ExpectPodError(
      [](v1::Pod& p) {
        auto* mount = p.mutable_spec()->mutable_containers(0)->add_volume_mounts();
        mount->set_name("data");
        mount->set_mount_path("/data");
      },
      "spec.containers[0].volumeMounts[0].name: Not found: \"data\"");
  ExpectPodError(
      [](v1::Pod& p) {
        for (int i = 0; i < 2; ++i) {
          auto* v = p.mutable_spec()->add_volumes();
          v->set_name("data");
          v->mutable_empty_dir();
        }
      },
      "spec.volumes[1].name: Duplicate value: \"data\"");
  ExpectPodError(
      [](v1::Pod& p) {
        auto* v = p.mutable_spec()->add_volumes();
        v->set_name("data");
        v->mutable_empty_dir();
        v->mutable_host_path()->set_path("/tmp");
      },
      "spec.volumes[0]: Forbidden: may not specify more than 1 volume type");
  ExpectPodError(
      [](v1::Pod& p) { p.mutable_spec()->add_volumes()->set_name("data"); },
      "spec.volumes[0]: Required value: must specify a volume type");
  ExpectPodError(
      [](v1::Pod& p) {
        auto* v = p.mutable_spec()->add_volumes();
        v->set_name("data");
        v->mutable_host_path();
      },
      "spec.volumes[0].hostPath.path: Required value");
  ExpectPodError(
      [](v1::Pod& p) {
        auto* v = p.mutable_spec()->add_volumes();
        v->set_name("data");
        v->mutable_empty_dir();
        for (int i = 0; i < 2; ++i) {
          auto* mount = p.mutable_spec()->mutable_containers(0)->add_volume_mounts();
          mount->set_name("data");
          mount->set_mount_path("/data");
        }
      },
      "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique");
}

TEST(PodValidationTest, Env) {
  ExpectPodError([](v1::Pod& p) { p.mutable_spec()->mutable_containers(0)->add_env(); },
                 "spec.containers[0].env[0].name: Required value");
  ExpectPodError(
      [](v1::Pod& p) { p.mutable_spec()->mutable_containers(0)->add_env()->set_name("A=B"); },
      "spec.containers[0].env[0].name: Invalid value: \"A=B\"");
  ExpectPodError(
      [](v1::Pod& p) {
        auto* env = p.mutable_spec()->mutable_containers(0)->add_env();
        env->set_name("A");
        env->set_value("x");
        env->mutable_value_from()->mutable_field_ref()->set_field_path("metadata.name");
      },
      "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when "
      "`value` is not empty");
  ExpectPodError(
      [](v1::Pod& p) {
        auto* env = p.mutable_spec()->mutable_containers(0)->add_env();
        env->set_name("A");
        env->mutable_value_from();
      },
      "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
      "`secretKeyRef`");
}

TEST(PodValidationTest, Tolerations) {
  auto toleration = [](v1::Pod& p) { return p.mutable_spec()->add_tolerations(); };
  ExpectPodError(
      [&](v1::Pod& p) { toleration(p)->set_value("x"); },
      "spec.tolerations[0].operator: Invalid value: \"\": operator must be Exists when `key` "
      "is empty, which means \"match all values and all keys\"");
  ExpectPodError(
      [&](v1::Pod& p) {
        auto* t = toleration(p);
        t->set_key("k");
        t->set_operator_("Exists");
        t->set_value("v");
      },
      "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when "
      "`operator` is 'Exists'");
  ExpectPodError(
      [&](v1::Pod& p) {
        auto* t = toleration(p);
        t->set_key("k");
        t->set_operator_("In");
      },
      "spec.tolerations[0].operator: Unsupported value: \"In\": supported values: \"Equal\", "
      "\"Exists\"");
  ExpectPodError(
      [&](v1::Pod& p) {
        auto* t = toleration(p);
        t->set_key("k");
        t->set_effect("NoSchedule");
        t->set_toleration_seconds(60);
      },
      "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' "
      "when `tolerationSeconds` is set");
  ExpectPodError(
      [&](v1::Pod& p) {
        auto* t = toleration(p);
        t->set_key("k");
        t->set_effect("NoRun");
      },
      "spec.tolerations[0].effect: Unsupported value: \"NoRun\": supported values: "
      "\"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"");
  v1::Pod ok = ValidPod();
  toleration(ok)->set_operator_("Exists");  // tolerate everything
  auto* t = toleration(ok);
  t->set_key("node.kubernetes.io/not-ready");
  t->set_operator_("Exists");
  t->set_effect("NoExecute");
  t->set_toleration_seconds(300);
  auto* equal = toleration(ok);
  equal->set_key("dedicated");
  equal->set_value("gpu");
  EXPECT_THAT(Validate(ok), IsOk());
}

TEST(PodValidationTest, NodeAffinity) {
  auto required = [](v1::Pod& p) {
    return p.mutable_spec()
        ->mutable_affinity()
        ->mutable_node_affinity()
        ->mutable_required_during_scheduling_ignored_during_execution();
  };
  const std::string terms =
      "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
      "nodeSelectorTerms";
  ExpectPodError([&](v1::Pod& p) { required(p); },
                 terms + ": Required value: must have at least one node selector term");
  auto expression = [&](v1::Pod& p, const char* op, std::vector<std::string> values) {
    auto* r = required(p)->add_node_selector_terms()->add_match_expressions();
    r->set_key("zone");
    r->set_operator_(op);
    for (auto& v : values) r->add_values(v);
  };
  ExpectPodError([&](v1::Pod& p) { expression(p, "In", {}); },
                 terms + "[0].matchExpressions[0].values: Required value: must be specified "
                         "when `operator` is 'In' or 'NotIn'");
  ExpectPodError([&](v1::Pod& p) { expression(p, "Exists", {"a"}); },
                 terms + "[0].matchExpressions[0].values: Forbidden: may not be specified when "
                         "`operator` is 'Exists' or 'DoesNotExist'");
  ExpectPodError([&](v1::Pod& p) { expression(p, "Gt", {"1", "2"}); },
                 "must be specified single value when `operator` is 'Lt' or 'Gt'");
  ExpectPodError([&](v1::Pod& p) { expression(p, "Near", {"a"}); },
                 terms + "[0].matchExpressions[0].operator: Invalid value: \"Near\": not a "
                         "valid selector operator");
  ExpectPodError(
      [&](v1::Pod& p) {
        auto* f = required(p)->add_node_selector_terms()->add_match_fields();
        f->set_key("metadata.labels");
        f->set_operator_("In");
        f->add_values("x");
      },
      terms + "[0].matchFields[0].key: Invalid value: \"metadata.labels\": not a valid field "
              "selector key");
  ExpectPodError(
      [](v1::Pod& p) {
        auto* pref = p.mutable_spec()
                         ->mutable_affinity()
                         ->mutable_node_affinity()
                         ->add_preferred_during_scheduling_ignored_during_execution();
        pref->set_weight(101);
      },
      "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: "
      "Invalid value: 101: must be in the range 1-100");
  v1::Pod ok = ValidPod();
  expression(ok, "In", {"us-east-1a", "us-east-1b"});
  auto* f = required(ok)->add_node_selector_terms()->add_match_fields();
  f->set_key("metadata.name");
  f->set_operator_("In");
  f->add_values("node-1");
  EXPECT_THAT(Validate(ok), IsOk());
}

TEST(PodValidationTest, PodAffinityAndSpread) {
  ExpectPodError(
      [](v1::Pod& p) {
        auto* term = p.mutable_spec()
                         ->mutable_affinity()
                         ->mutable_pod_anti_affinity()
                         ->add_required_during_scheduling_ignored_during_execution();
        (*term->mutable_label_selector()->mutable_match_labels())["app"] = "web";
      },
      "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]."
      "topologyKey: Required value: can not be empty");
  ExpectPodError(
      [](v1::Pod& p) {
        auto* w = p.mutable_spec()
                      ->mutable_affinity()
                      ->mutable_pod_affinity()
                      ->add_preferred_during_scheduling_ignored_during_execution();
        w->set_weight(0);
        w->mutable_pod_affinity_term()->set_topology_key("zone");
      },
      "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: "
      "Invalid value: 0: must be in the range 1-100");
  auto spread = [](v1::Pod& p) {
    auto* c = p.mutable_spec()->add_topology_spread_constraints();
    c->set_max_skew(1);
    c->set_topology_key("topology.kubernetes.io/zone");
    c->set_when_unsatisfiable("DoNotSchedule");
    return c;
  };
  ExpectPodError([&](v1::Pod& p) { spread(p)->set_max_skew(0); },
                 "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater "
                 "than zero");
  ExpectPodError([&](v1::Pod& p) { spread(p)->set_when_unsatisfiable("Maybe"); },
                 "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: "
                 "\"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"");
  ExpectPodError(
      [&](v1::Pod& p) {
        spread(p);
        spread(p);
      },
      "spec.topologySpreadConstraints[1].{topologyKey, whenUnsatisfiable}: Duplicate value: "
      "\"{topology.kubernetes.io/zone, DoNotSchedule}\"");
  ExpectPodError(
      [&](v1::Pod& p) {
        auto* c = spread(p);
        c->set_when_unsatisfiable("ScheduleAnyway");
        c->set_min_domains(2);
      },
      "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway");
  ExpectPodError([&](v1::Pod& p) { spread(p)->set_node_taints_policy("Sometimes"); },
                 "spec.topologySpreadConstraints[0].nodeTaintsPolicy: Unsupported value");
  v1::Pod ok = ValidPod();
  auto* c = spread(ok);
  c->set_min_domains(3);
  c->set_node_affinity_policy("Honor");
  (*c->mutable_label_selector()->mutable_match_labels())["app"] = "web";
  EXPECT_THAT(Validate(ok), IsOk());
}

TEST(PodValidationTest, ReportsEveryErrorInOneStatus) {
  v1::Pod pod = ValidPod();
  pod.mutable_metadata()->set_name("Bad_Name");
  pod.mutable_spec()->mutable_containers(0)->clear_image();
  pod.mutable_spec()->set_restart_policy("Sometimes");
  absl::Status status = Validate(pod);
  EXPECT_THAT(status, InvalidWith("metadata.name: Invalid value: \"Bad_Name\""));
  EXPECT_THAT(status, InvalidWith("; spec.containers[0].image: Required value; "));
  EXPECT_THAT(status, InvalidWith("spec.restartPolicy: Unsupported value"));
}

// --- workloads ------------------------------------------------------------------------

TEST(DeploymentValidationTest, SelectorRequiredAndMustMatchTemplate) {
  v1::Deployment d = ValidDeployment();
  d.mutable_spec()->clear_selector();
  EXPECT_THAT(Validate(d), InvalidWith("spec.selector: Required value"));

  d = ValidDeployment();
  d.mutable_spec()->mutable_selector()->clear_match_labels();
  EXPECT_THAT(Validate(d), InvalidWith("empty selector is invalid for deployment"));

  d = ValidDeployment();
  (*d.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "api";
  EXPECT_THAT(Validate(d),
              InvalidWith("spec.template.metadata.labels: Invalid value: "
                          "map[string]string{\"app\":\"web\", \"tier\":\"frontend\"}: "
                          "`selector` does not match template `labels`"));

  d = ValidDeployment();
  auto* expr = d.mutable_spec()->mutable_selector()->add_match_expressions();
  expr->set_key("tier");
  expr->set_operator_("In");
  expr->add_values("frontend");
  EXPECT_THAT(Validate(d), IsOk());
  expr->set_operator_("NotIn");
  EXPECT_THAT(Validate(d), InvalidWith("`selector` does not match template `labels`"));
  expr->set_operator_("Among");
  EXPECT_THAT(Validate(d), InvalidWith("spec.selector.matchExpressions[0].operator: Invalid "
                                       "value: \"Among\": not a valid selector operator"));
}

TEST(DeploymentValidationTest, NumericFields) {
  v1::Deployment d = ValidDeployment();
  d.mutable_spec()->set_replicas(-1);
  EXPECT_THAT(Validate(d),
              InvalidWith("spec.replicas: Invalid value: -1: must be greater than or equal to 0"));
  d = ValidDeployment();
  d.mutable_spec()->set_revision_history_limit(-1);
  EXPECT_THAT(Validate(d), InvalidWith("spec.revisionHistoryLimit: Invalid value: -1"));
  d = ValidDeployment();
  d.mutable_spec()->set_min_ready_seconds(-1);
  EXPECT_THAT(Validate(d), InvalidWith("spec.minReadySeconds: Invalid value: -1"));
  d = ValidDeployment();
  d.mutable_spec()->set_min_ready_seconds(600);
  EXPECT_THAT(Validate(d), InvalidWith("spec.progressDeadlineSeconds: Invalid value: 600: must "
                                       "be greater than minReadySeconds"));
  d.mutable_spec()->set_progress_deadline_seconds(601);
  EXPECT_THAT(Validate(d), IsOk());
  d.mutable_spec()->set_replicas(0);  // scaling to zero is fine
  EXPECT_THAT(Validate(d), IsOk());
}

TEST(DeploymentValidationTest, RollingUpdate) {
  auto rolling = [](v1::Deployment& d) {
    return d.mutable_spec()->mutable_strategy()->mutable_rolling_update();
  };
  v1::Deployment d = ValidDeployment();
  rolling(d)->mutable_max_surge()->set_int_val(0);
  rolling(d)->mutable_max_unavailable()->set_str_val("0%");
  EXPECT_THAT(Validate(d), InvalidWith("spec.strategy.rollingUpdate.maxUnavailable: Invalid "
                                       "value: 0%: may not be 0 when `maxSurge` is 0"));
  d = ValidDeployment();
  rolling(d)->mutable_max_unavailable()->set_str_val("110%");
  EXPECT_THAT(Validate(d), InvalidWith("spec.strategy.rollingUpdate.maxUnavailable: Invalid "
                                       "value: 110%: must not be greater than 100%"));
  d = ValidDeployment();
  rolling(d)->mutable_max_surge()->set_str_val("110%");  // surge may exceed 100%
  EXPECT_THAT(Validate(d), IsOk());
  d = ValidDeployment();
  rolling(d)->mutable_max_surge()->set_str_val("lots");
  EXPECT_THAT(Validate(d), InvalidWith("spec.strategy.rollingUpdate.maxSurge: Invalid value: "
                                       "lots: a valid percent string must be a numeric string "
                                       "followed by an ending '%'"));
  d = ValidDeployment();
  rolling(d)->mutable_max_surge()->set_int_val(-1);
  EXPECT_THAT(Validate(d), InvalidWith("spec.strategy.rollingUpdate.maxSurge: Invalid value: "
                                       "-1: must be greater than or equal to 0"));
  d = ValidDeployment();
  rolling(d)->mutable_max_surge()->set_int_val(0);
  rolling(d)->mutable_max_unavailable()->set_int_val(1);
  EXPECT_THAT(Validate(d), IsOk());
}

TEST(DeploymentValidationTest, Strategy) {
  v1::Deployment d = ValidDeployment();
  d.mutable_spec()->mutable_strategy()->set_type("Recreate");
  EXPECT_THAT(Validate(d), InvalidWith("spec.strategy.rollingUpdate: Forbidden: may not be "
                                       "specified when strategy `type` is 'Recreate'"));
  d.mutable_spec()->mutable_strategy()->clear_rolling_update();
  EXPECT_THAT(Validate(d), IsOk());
  d.mutable_spec()->mutable_strategy()->set_type("BlueGreen");
  EXPECT_THAT(Validate(d), InvalidWith("spec.strategy.type: Unsupported value: \"BlueGreen\": "
                                       "supported values: \"Recreate\", \"RollingUpdate\""));
}

TEST(DeploymentValidationTest, TemplateRules) {
  v1::Deployment d = ValidDeployment();
  d.mutable_spec()->mutable_template_()->mutable_spec()->set_restart_policy("OnFailure");
  EXPECT_THAT(Validate(d), InvalidWith("spec.template.spec.restartPolicy: Unsupported value: "
                                       "\"OnFailure\": supported values: \"Always\""));
  d = ValidDeployment();
  d.mutable_spec()->mutable_template_()->mutable_spec()->set_active_deadline_seconds(10);
  EXPECT_THAT(Validate(d), InvalidWith("spec.template.spec.activeDeadlineSeconds: Forbidden: "
                                       "activeDeadlineSeconds in ReplicaSet is not Supported"));
  d = ValidDeployment();
  auto* c = d.mutable_spec()->mutable_template_()->mutable_spec()->add_containers();
  *c = MakeContainer("web");
  SetContainerDefaults(*c);
  EXPECT_THAT(Validate(d),
              InvalidWith("spec.template.spec.containers[1].name: Duplicate value: \"web\""));
  d = ValidDeployment();
  d.mutable_metadata()->set_name("Web");
  EXPECT_THAT(Validate(d), InvalidWith("metadata.name: Invalid value: \"Web\""));
}

TEST(ReplicaSetValidationTest, Rules) {
  EXPECT_THAT(Validate(ValidReplicaSet()), IsOk());
  v1::ReplicaSet rs = ValidReplicaSet();
  rs.mutable_spec()->set_replicas(-2);
  EXPECT_THAT(Validate(rs), InvalidWith("spec.replicas: Invalid value: -2"));
  rs = ValidReplicaSet();
  rs.mutable_spec()->clear_selector();
  EXPECT_THAT(Validate(rs), InvalidWith("spec.selector: Required value"));
  rs = ValidReplicaSet();
  (*rs.mutable_spec()->mutable_template_()->mutable_metadata()->mutable_labels())["app"] = "x";
  EXPECT_THAT(Validate(rs), InvalidWith("`selector` does not match template `labels`"));
  rs = ValidReplicaSet();
  rs.mutable_spec()->set_min_ready_seconds(-1);
  EXPECT_THAT(Validate(rs), InvalidWith("spec.minReadySeconds: Invalid value: -1"));
}

// --- services -------------------------------------------------------------------------

TEST(ServiceValidationTest, Rules) {
  v1::Service svc = ValidService();
  svc.mutable_metadata()->set_name("9web");
  EXPECT_THAT(Validate(svc), InvalidWith("metadata.name: Invalid value: \"9web\": a DNS-1035 "
                                         "label must consist of lower case alphanumeric"));
  svc = ValidService();
  svc.mutable_spec()->clear_ports();
  EXPECT_THAT(Validate(svc), InvalidWith("spec.ports: Required value"));
  svc.mutable_spec()->set_cluster_ip("None");  // headless services need no ports
  EXPECT_THAT(Validate(svc), IsOk());

  svc = ValidService();
  svc.mutable_spec()->mutable_ports(0)->set_port(0);
  EXPECT_THAT(Validate(svc), InvalidWith("spec.ports[0].port: Invalid value: 0: must be between "
                                         "1 and 65535, inclusive"));
  svc = ValidService();
  auto* second = svc.mutable_spec()->add_ports();
  second->set_port(443);
  second->set_protocol("TCP");
  second->mutable_target_port()->set_int_val(8443);
  EXPECT_THAT(Validate(svc), InvalidWith("spec.ports[0].name: Required value"));
  svc.mutable_spec()->mutable_ports(0)->set_name("https");
  second->set_name("https");
  EXPECT_THAT(Validate(svc), InvalidWith("spec.ports[1].name: Duplicate value: \"https\""));
  second->set_name("alt");
  EXPECT_THAT(Validate(svc), IsOk());

  svc = ValidService();
  svc.mutable_spec()->mutable_ports(0)->mutable_target_port()->set_int_val(70000);
  EXPECT_THAT(Validate(svc), InvalidWith("spec.ports[0].targetPort: Invalid value: 70000"));
  svc = ValidService();
  svc.mutable_spec()->mutable_ports(0)->mutable_target_port()->set_str_val("http");
  EXPECT_THAT(Validate(svc), IsOk());
  svc = ValidService();
  svc.mutable_spec()->mutable_ports(0)->set_node_port(30080);
  EXPECT_THAT(Validate(svc), InvalidWith("spec.ports[0].nodePort: Forbidden: may not be used "
                                         "when `type` is 'ClusterIP'"));
  svc.mutable_spec()->set_type("NodePort");
  EXPECT_THAT(Validate(svc), IsOk());

  svc = ValidService();
  svc.mutable_spec()->set_type("Internal");
  EXPECT_THAT(Validate(svc), InvalidWith("spec.type: Unsupported value: \"Internal\": supported "
                                         "values: \"ClusterIP\", \"ExternalName\", "
                                         "\"LoadBalancer\", \"NodePort\""));
  svc = ValidService();
  svc.mutable_spec()->set_session_affinity("Sticky");
  EXPECT_THAT(Validate(svc), InvalidWith("spec.sessionAffinity: Unsupported value"));
  svc = ValidService();
  svc.mutable_spec()->set_cluster_ip("10.0.0.300");
  EXPECT_THAT(Validate(svc), InvalidWith("spec.clusterIP: Invalid value: \"10.0.0.300\": must "
                                         "be empty, 'None', or a valid IP address"));
  svc = ValidService();
  svc.mutable_spec()->set_external_traffic_policy("Local");
  EXPECT_THAT(Validate(svc), InvalidWith("may only be set for externally-accessible services"));
  svc = ValidService();
  (*svc.mutable_spec()->mutable_selector())["app"] = "bad value";
  EXPECT_THAT(Validate(svc), InvalidWith("spec.selector: Invalid value: \"bad value\""));
}

TEST(ServiceValidationTest, ExternalName) {
  v1::Service svc;
  svc.mutable_metadata()->set_name("db");
  svc.mutable_spec()->set_type("ExternalName");
  SetDefaults(svc);
  EXPECT_THAT(Validate(svc), InvalidWith("spec.externalName: Required value"));
  svc.mutable_spec()->set_external_name("db.example.com.");
  EXPECT_THAT(Validate(svc), IsOk());
  svc.mutable_spec()->set_cluster_ip("10.0.0.1");
  EXPECT_THAT(Validate(svc), InvalidWith("spec.clusterIP: Forbidden: may not be set for "
                                         "ExternalName services"));
}

// --- other kinds ----------------------------------------------------------------------

TEST(NamespaceValidationTest, Rules) {
  v1::Namespace ns;
  ns.mutable_metadata()->set_name("team-a");
  SetDefaults(ns);
  EXPECT_THAT(Validate(ns), IsOk());
  ns.mutable_metadata()->set_name("team.a");
  EXPECT_THAT(Validate(ns), InvalidWith("metadata.name: Invalid value: \"team.a\": must not "
                                        "contain dots"));
  ns.mutable_metadata()->set_name("team-a");
  ns.mutable_spec()->add_finalizers("not a finalizer");
  EXPECT_THAT(Validate(ns), InvalidWith("spec.finalizers[0]: Invalid value"));
}

TEST(NodeValidationTest, Taints) {
  v1::Node node;
  node.mutable_metadata()->set_name("node-1.example.com");
  auto* taint = node.mutable_spec()->add_taints();
  taint->set_key("dedicated");
  taint->set_value("gpu");
  taint->set_effect("NoSchedule");
  EXPECT_THAT(Validate(node), IsOk());
  taint->set_effect("");
  EXPECT_THAT(Validate(node), InvalidWith("spec.taints[0].effect: Required value"));
  taint->set_effect("NoRun");
  EXPECT_THAT(Validate(node), InvalidWith("spec.taints[0].effect: Unsupported value: \"NoRun\""));
  taint->set_effect("NoSchedule");
  taint->set_key("");
  EXPECT_THAT(Validate(node), InvalidWith("spec.taints[0].key: Invalid value: \"\": name part "
                                          "must be non-empty"));
  taint->set_key("dedicated");
  *node.mutable_spec()->add_taints() = *taint;
  EXPECT_THAT(Validate(node), InvalidWith("spec.taints[1]: Duplicate value"));
  node.mutable_spec()->mutable_taints(1)->set_effect("NoExecute");  // same key, other effect
  EXPECT_THAT(Validate(node), IsOk());
}

TEST(NodeValidationTest, CIDRsAndCapacity) {
  v1::Node node;
  node.mutable_metadata()->set_name("node-1");
  node.mutable_spec()->set_pod_cidr("10.244.1.0/24");
  node.mutable_spec()->add_pod_cidrs("10.244.1.0/24");
  node.mutable_spec()->add_pod_cidrs("fd00:10:244:1::/64");
  (*node.mutable_status()->mutable_capacity())["cpu"].set_value("4");
  SetDefaults(node);
  EXPECT_THAT(Validate(node), IsOk());
  node.mutable_spec()->set_pod_cidr("10.244.1.0");
  EXPECT_THAT(Validate(node), InvalidWith("spec.podCIDR: Invalid value: \"10.244.1.0\": must be "
                                          "a valid CIDR"));
  node.mutable_spec()->set_pod_cidr("10.244.1.0/24");
  (*node.mutable_status()->mutable_capacity())["cpu"].set_value("-4");
  EXPECT_THAT(Validate(node), InvalidWith("status.capacity[cpu]: Invalid value: \"-4\""));
}

TEST(EndpointSliceValidationTest, Rules) {
  v1::EndpointSlice slice;
  slice.mutable_metadata()->set_name("web-abc12");
  slice.set_address_type("IPv4");
  auto* endpoint = slice.add_endpoints();
  endpoint->add_addresses("10.244.1.5");
  endpoint->mutable_conditions()->set_ready(true);
  endpoint->set_node_name("node-1");
  auto* port = slice.add_ports();
  port->set_port(8080);
  port->set_name("http");
  SetDefaults(slice);
  EXPECT_THAT(Validate(slice), IsOk());

  v1::EndpointSlice bad = slice;
  bad.set_address_type("IPX");
  EXPECT_THAT(Validate(bad), InvalidWith("addressType: Unsupported value: \"IPX\""));
  bad = slice;
  bad.mutable_endpoints(0)->set_addresses(0, "fd00::1");
  EXPECT_THAT(Validate(bad), InvalidWith("endpoints[0].addresses[0]: Invalid value: \"fd00::1\": "
                                         "must be a valid IPv4 address"));
  bad = slice;
  bad.mutable_endpoints(0)->clear_addresses();
  EXPECT_THAT(Validate(bad), InvalidWith("endpoints[0].addresses: Required value: must contain "
                                         "at least 1 address"));
  bad = slice;
  *bad.add_ports() = slice.ports(0);
  EXPECT_THAT(Validate(bad), InvalidWith("ports[1].name: Duplicate value: \"http\""));
  bad = slice;
  bad.mutable_ports(0)->set_protocol("ICMP");
  EXPECT_THAT(Validate(bad), InvalidWith("ports[0].protocol: Unsupported value"));
  bad = slice;
  bad.set_address_type("FQDN");
  bad.mutable_endpoints(0)->set_addresses(0, "web.example.com");
  EXPECT_THAT(Validate(bad), IsOk());
}

TEST(LeaseValidationTest, Rules) {
  v1::Lease lease;
  lease.mutable_metadata()->set_name("node-1");
  lease.mutable_metadata()->set_namespace_("kube-node-lease");
  lease.mutable_spec()->set_holder_identity("node-1");
  lease.mutable_spec()->set_lease_duration_seconds(40);
  EXPECT_THAT(Validate(lease), IsOk());
  lease.mutable_spec()->set_lease_duration_seconds(0);
  EXPECT_THAT(Validate(lease), InvalidWith("spec.leaseDurationSeconds: Invalid value: 0: must be "
                                           "greater than 0"));
  lease.mutable_spec()->set_lease_duration_seconds(40);
  lease.mutable_spec()->set_lease_transitions(-1);
  EXPECT_THAT(Validate(lease), InvalidWith("spec.leaseTransitions: Invalid value: -1"));
}

TEST(EventValidationTest, Rules) {
  v1::Event event;
  event.mutable_metadata()->set_name("web-0.17a6b5c4d3e2f1a0");
  event.mutable_metadata()->set_namespace_("default");
  event.mutable_involved_object()->set_kind("Pod");
  event.mutable_involved_object()->set_namespace_("default");
  event.mutable_involved_object()->set_name("web-0");
  event.set_type("Warning");
  event.set_reason("BackOff");
  EXPECT_THAT(Validate(event), IsOk());
  event.mutable_involved_object()->set_namespace_("other");
  EXPECT_THAT(Validate(event), InvalidWith("involvedObject.namespace: Invalid value: \"other\": "
                                           "does not match event.namespace"));
  event.mutable_involved_object()->set_namespace_("default");
  event.set_type("Error");
  EXPECT_THAT(Validate(event), InvalidWith("type: Unsupported value: \"Error\""));
}

TEST(PriorityClassValidationTest, Rules) {
  v1::PriorityClass pc;
  pc.mutable_metadata()->set_name("high");
  pc.set_value(1'000'000);
  SetDefaults(pc);
  EXPECT_THAT(Validate(pc), IsOk());
  pc.set_value(1'000'000'000);
  EXPECT_THAT(Validate(pc), IsOk());
  pc.set_value(1'000'000'001);
  EXPECT_THAT(Validate(pc), InvalidWith("value: Forbidden: maximum allowed value of a user "
                                        "defined priority is 1000000000"));
  pc.set_value(-5);  // negative priorities are allowed
  EXPECT_THAT(Validate(pc), IsOk());

  v1::PriorityClass system;
  system.mutable_metadata()->set_name("system-cluster-critical");
  system.set_value(2'000'000'000);
  SetDefaults(system);
  EXPECT_THAT(Validate(system), IsOk());
  system.set_value(5);
  EXPECT_THAT(Validate(system), InvalidWith("metadata.name: Forbidden: priority class names with "
                                            "'system-' prefix are reserved for system use only. "
                                            "error: value of system-cluster-critical "
                                            "PriorityClass must be 2000000000"));
  system.mutable_metadata()->set_name("system-mine");
  EXPECT_THAT(Validate(system), InvalidWith("system-mine is not a known system priority class"));

  pc.set_value(1);
  pc.set_preemption_policy("Sometimes");
  EXPECT_THAT(Validate(pc), InvalidWith("preemptionPolicy: Unsupported value: \"Sometimes\""));
  pc.set_preemption_policy("Never");
  pc.mutable_metadata()->set_namespace_("default");
  EXPECT_THAT(Validate(pc), InvalidWith("metadata.namespace: Forbidden"));
}

}  // namespace
}  // namespace orch::api

// StringCheck: the walk of an encoding says what protobuf's parser would say of its
// strings, never reads outside the bytes, and a failure names the field as Kubernetes does.
#include "client/string_check.h"

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "orch/api/encoding.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "support/status_matchers.h"

namespace orch::client::internal {
namespace {

namespace v1 = ::orch::api::v1;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using Strings = StringCheck::Strings;

constexpr char kNotUtf8[] = "\xc3\x28";  // a lead byte before ASCII

// A pod with a string in most places one can be: nested messages, lists, maps (of strings
// and of quantities), a oneof.
v1::Pod FullPod() {
  v1::Pod pod;
  pod.set_api_version("v1");
  pod.set_kind("Pod");
  v1::ObjectMeta& meta = *pod.mutable_metadata();
  meta.set_name("web-0");
  meta.set_namespace_("default");
  meta.set_uid("6f1c7d2e-8a3b-4c5d-9e0f-112233445566");
  meta.mutable_creation_timestamp()->set_seconds(1'700'000'000);
  (*meta.mutable_labels())["app"] = "web";
  (*meta.mutable_annotations())["note"] = "héllo 日本 😀";
  meta.add_finalizers("example.com/keep");
  v1::Container& c = *pod.mutable_spec()->add_containers();
  c.set_name("main");
  c.set_image("registry.k8s.io/pause:3.9");
  c.add_args("--name=ünïcode");
  c.add_ports()->set_container_port(80);
  (*c.mutable_resources()->mutable_requests())["cpu"].set_value("100m");
  (*c.mutable_resources()->mutable_limits())["memory"].set_value("500Mi");
  c.mutable_readiness_probe()->mutable_http_get()->mutable_port()->set_str_val("http");
  v1::EnvVar& env = *c.add_env();
  env.set_name("MODE");
  env.set_value("production");
  pod.mutable_spec()->set_node_name("node-1");
  pod.mutable_status()->set_phase("Running");
  pod.mutable_status()->set_message("démarré");
  v1::PodCondition& ready = *pod.mutable_status()->add_conditions();
  ready.set_type("Ready");
  ready.set_status("True");
  ready.mutable_last_transition_time()->set_seconds(1'700'000'100);
  return pod;
}

class StringCheckTest : public ::testing::Test {
 protected:
  absl::Status Check(const google::protobuf::Message& object) {
    return check_.Check(object, api::DeterministicBytes(object));
  }
  Strings Walk(const google::protobuf::Message& object) {
    return check_.Walk(*object.GetDescriptor(), api::DeterministicBytes(object));
  }
  Strings WalkPod(std::string_view encoding) {
    return check_.Walk(*v1::Pod::descriptor(), encoding);
  }

  const StringCheck check_{api::Scheme::Builtin()};
  // Protobuf logs each string it will not write or parse: expected here.
  google::protobuf::LogSilencer quiet_;
};

TEST_F(StringCheckTest, ValidObjectsPass) {
  EXPECT_EQ(Walk(FullPod()), Strings::kValid);
  EXPECT_THAT(Check(FullPod()), IsOk());
  EXPECT_EQ(Walk(v1::Pod()), Strings::kValid);
  EXPECT_EQ(Walk(v1::Event()), Strings::kValid);
}

TEST_F(StringCheckTest, EveryKindOfPlaceIsChecked) {
  struct Case {
    std::string path;
    std::function<void(v1::Pod&)> spoil;
  };
  const std::vector<Case> cases = {
      {"apiVersion", [](v1::Pod& p) { p.set_api_version(kNotUtf8); }},
      {"metadata.name", [](v1::Pod& p) { p.mutable_metadata()->set_name(kNotUtf8); }},
      {"metadata.labels[app]",
       [](v1::Pod& p) { (*p.mutable_metadata()->mutable_labels())["app"] = kNotUtf8; }},
      {"metadata.finalizers[1]",
       [](v1::Pod& p) { p.mutable_metadata()->add_finalizers(kNotUtf8); }},
      {"spec.containers[0].args[1]",
       [](v1::Pod& p) { p.mutable_spec()->mutable_containers(0)->add_args(kNotUtf8); }},
      {"spec.containers[1].name",
       [](v1::Pod& p) { p.mutable_spec()->add_containers()->set_name(kNotUtf8); }},
      // Quantities and IntOrStrings are named as the JSON values they are.
      {"spec.containers[0].resources.requests[cpu]",
       [](v1::Pod& p) {
         (*p.mutable_spec()->mutable_containers(0)->mutable_resources()->mutable_requests())
             ["cpu"].set_value(kNotUtf8);
       }},
      {"spec.containers[0].readinessProbe.httpGet.port",
       [](v1::Pod& p) {
         p.mutable_spec()->mutable_containers(0)->mutable_readiness_probe()->mutable_http_get()
             ->mutable_port()->set_str_val(kNotUtf8);
       }},
      {"status.conditions[0].message",
       [](v1::Pod& p) { p.mutable_status()->mutable_conditions(0)->set_message(kNotUtf8); }},
      {"status.message", [](v1::Pod& p) { p.mutable_status()->set_message(kNotUtf8); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    v1::Pod pod = FullPod();
    c.spoil(pod);
    EXPECT_EQ(Walk(pod), Strings::kNotUtf8);
    EXPECT_THAT(Check(pod), StatusIs(absl::StatusCode::kInvalidArgument,
                                     c.path + ": Invalid value: must be valid UTF-8"));
  }
}

TEST_F(StringCheckTest, TheFirstBadFieldIsNamedInFieldNumberAndKeyOrder) {
  v1::Pod pod = FullPod();
  pod.mutable_status()->set_message(kNotUtf8);
  pod.mutable_spec()->mutable_containers(0)->add_args(kNotUtf8);
  (*pod.mutable_metadata()->mutable_annotations())["z"] = kNotUtf8;
  (*pod.mutable_metadata()->mutable_annotations())["b"] = kNotUtf8;
  EXPECT_THAT(Check(pod), StatusIs(absl::StatusCode::kInvalidArgument,
                                   "metadata.annotations[b]: Invalid value: must be valid UTF-8"));
}

TEST_F(StringCheckTest, AMapKeyThatIsNotUtf8IsShownEscaped) {
  v1::Pod pod = FullPod();
  (*pod.mutable_metadata()->mutable_annotations())[std::string("k\xff") + "\x01"] = "v";
  EXPECT_THAT(Check(pod),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "metadata.annotations[k\\xff\\x01]: Invalid value: must be valid UTF-8"));
}

TEST_F(StringCheckTest, AMapChangedThroughAPointerKeptAcrossChecksIsSeenAsItIs) {
  // Reading a map by reflection would leave such a pointer changing a map that reflection
  // no longer reads: the check reads a copy.
  v1::Pod pod = FullPod();
  auto& annotations = *pod.mutable_metadata()->mutable_annotations();
  annotations["a"] = kNotUtf8;
  EXPECT_THAT(Check(pod), StatusIs(absl::StatusCode::kInvalidArgument,
                                   "metadata.annotations[a]: Invalid value: must be valid UTF-8"));
  annotations["a"] = "fine";
  annotations["b"] = kNotUtf8;
  EXPECT_THAT(Check(pod), StatusIs(absl::StatusCode::kInvalidArgument,
                                   "metadata.annotations[b]: Invalid value: must be valid UTF-8"));
  annotations.erase("b");
  EXPECT_THAT(Check(pod), IsOk());
  EXPECT_EQ(pod.metadata().annotations().at("a"), "fine");
}

TEST_F(StringCheckTest, UnknownFieldsAreNotText) {
  // Field 1000, length-delimited, holding bytes that are not UTF-8: the parser keeps such a
  // field as it is, and so the walk skips it.
  const std::string bytes =
      api::DeterministicBytes(FullPod()) + std::string("\xc2\x3e\x02\xff\xfe", 5);
  v1::Pod parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(WalkPod(bytes), Strings::kValid);
  // So is a group (field 1000 again, holding field 1 = 1).
  const std::string group("\xc3\x3e\x08\x01\xc4\x3e", 6);
  ASSERT_TRUE(parsed.ParseFromString(group));
  EXPECT_EQ(WalkPod(group), Strings::kValid);
}

TEST_F(StringCheckTest, ATypeOutsideTheSchemeIsCheckedByReflection) {
  // A Struct is the JSON object it holds: its paths are keys and indexes only.
  google::protobuf::Struct object;
  google::protobuf::ListValue& list = *(*object.mutable_fields())["list"].mutable_list_value();
  list.add_values()->set_string_value("fine");
  EXPECT_EQ(Walk(object), Strings::kUnknown);  // no table: reflection decides
  EXPECT_THAT(Check(object), IsOk());
  list.add_values()->set_string_value(kNotUtf8);
  EXPECT_THAT(Check(object), StatusIs(absl::StatusCode::kInvalidArgument,
                                      "[list][1]: Invalid value: must be valid UTF-8"));
}

TEST_F(StringCheckTest, BrokenEncodingsAreNeverSaidToHoldBadStrings) {
  // Bytes that are all ASCII hold no bad UTF-8, however they are cut: the walk may pass
  // over them whole. Where it reads a field cut short, it cannot tell.
  const std::string bytes = api::DeterministicBytes(FullPod());
  int unknown = 0;
  for (size_t length = 0; length < bytes.size(); ++length) {
    const std::string prefix = bytes.substr(0, length);
    v1::Pod parsed;
    const Strings walked = WalkPod(prefix);
    EXPECT_NE(walked, Strings::kNotUtf8) << length;
    if (parsed.ParseFromString(prefix)) EXPECT_EQ(walked, Strings::kValid) << length;
    unknown += walked == Strings::kUnknown;
  }
  EXPECT_GT(unknown, 0);
  EXPECT_EQ(WalkPod("\x0a\x7f\xc3"), Strings::kUnknown);  // a length past the end
  EXPECT_EQ(WalkPod("\x08\x80\x80"), Strings::kUnknown);  // a varint past the end
  EXPECT_EQ(WalkPod("\x0c\xc3"), Strings::kUnknown);      // an end group alone
  EXPECT_EQ(WalkPod("\x0f\xc3"), Strings::kUnknown);      // wire type 7
  EXPECT_EQ(WalkPod("\x0f"), Strings::kValid);  // all ASCII: no bad string, broken or not
}

// Random bytes in random string fields: the walk agrees with the parser on every encoding.
TEST_F(StringCheckTest, AgreesWithTheParserOnRandomStrings) {
  std::mt19937 random(7);
  const int kBytes[] = {'a', 'Z', '-', 0x00, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc3,
                        0xe0, 0xe6, 0xed, 0xf0, 0xf4, 0xf5, 0xff};
  std::uniform_int_distribution<size_t> pick(0, std::size(kBytes) - 1);
  std::uniform_int_distribution<int> length(0, 4);
  using Place = std::function<void(v1::Pod&, const std::string&)>;
  const std::vector<Place> places = {
      [](v1::Pod& p, const std::string& s) { (*p.mutable_metadata()->mutable_annotations())[s]; },
      [](v1::Pod& p, const std::string& s) { (*p.mutable_metadata()->mutable_labels())["k"] = s; },
      [](v1::Pod& p, const std::string& s) {
        p.mutable_spec()->mutable_containers(0)->add_args(s);
      },
      [](v1::Pod& p, const std::string& s) {
        (*p.mutable_spec()->mutable_containers(0)->mutable_resources()->mutable_limits())["x"]
            .set_value(s);
      },
      [](v1::Pod& p, const std::string& s) {
        p.mutable_status()->mutable_conditions(0)->set_reason(s);
      },
      [](v1::Pod& p, const std::string& s) { p.mutable_spec()->set_hostname(s); },
  };
  std::uniform_int_distribution<size_t> place(0, places.size() - 1);
  int valid = 0;
  for (int i = 0; i < 20'000; ++i) {
    v1::Pod pod = FullPod();
    for (int strings = 0; strings < 1 + i % 2; ++strings) {
      std::string text;
      for (int n = length(random); n > 0; --n) {
        text.push_back(static_cast<char>(kBytes[pick(random)]));
      }
      places[place(random)](pod, text);
    }
    const std::string bytes = api::DeterministicBytes(pod);
    v1::Pod parsed;
    const bool parses = parsed.ParseFromString(bytes);
    ASSERT_EQ(WalkPod(bytes), parses ? Strings::kValid : Strings::kNotUtf8) << pod.DebugString();
    ASSERT_EQ(check_.Check(pod, bytes).ok(), parses) << pod.DebugString();
    valid += parses;
  }
  EXPECT_GT(valid, 1'000);  // both answers were tried
  EXPECT_LT(valid, 19'000);
}

// Arbitrary bytes and mangled encodings: the walk stays inside them (the sanitizer builds
// check that), and whatever the parser reads re-encodes to bytes the walk vouches for.
TEST_F(StringCheckTest, AnyBytesAreWalkedSafely) {
  std::mt19937 random(11);
  const std::string base = api::DeterministicBytes(FullPod());
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> flips(1, 4);
  std::uniform_int_distribution<int> length(0, 64);
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes = base;
      for (int n = flips(random); n > 0; --n) {
        bytes[std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(random)] =
            static_cast<char>(byte(random));
      }
    } else {
      for (int n = length(random); n > 0; --n) bytes.push_back(static_cast<char>(byte(random)));
    }
    WalkPod(bytes);
    v1::Pod parsed;
    if (parsed.ParseFromString(bytes)) {
      ASSERT_EQ(WalkPod(api::DeterministicBytes(parsed)), Strings::kValid);
    }
  }
}

}  // namespace
}  // namespace orch::client::internal

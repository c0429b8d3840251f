// EventRecorder: Events as Kubernetes' recorder writes them, aggregated within ten minutes,
// with the keys it remembers bounded.
#include "orch/client/events.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "client/fixture.h"
#include "support/status_matchers.h"

namespace orch::client {
namespace {

using ::orch::testing::StatusIs;
using ::testing::HasSubstr;
using testing::ClientTest;
using testing::MakePod;

// A recorder reporting as "kubelet", and a pod web-1 to report about.
class EventRecorderTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    recorder_ = std::make_unique<EventRecorder>(client_.get(), "kubelet");
    absl::StatusOr<api::v1::Pod> pod = client_->Create(MakePod("web-1"));
    ASSERT_TRUE(pod.ok()) << pod.status();
    pod_ = *std::move(pod);
  }
  std::vector<api::v1::Event> Events() {
    absl::StatusOr<ObjectList<api::v1::Event>> list = client_->List<api::v1::Event>("default");
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? list->items : std::vector<api::v1::Event>{};
  }
  absl::Status Record(std::string_view type, std::string_view reason, std::string_view message) {
    return recorder_->Record(pod_, type, reason, message);
  }

  std::unique_ptr<EventRecorder> recorder_;
  api::v1::Pod pod_;
};

TEST_F(EventRecorderTest, WritesAnEventAboutTheObject) {
  EventRecorder recorder(client_.get(), "default-scheduler");
  ASSERT_TRUE(recorder.Record(pod_, kEventNormal, "Scheduled", "Successfully assigned default/web-1 to n1").ok());
  std::vector<api::v1::Event> events = Events();
  ASSERT_EQ(events.size(), 1u);
  const api::v1::Event& e = events[0];
  EXPECT_THAT(e.metadata().name(), ::testing::StartsWith("web-1."));
  EXPECT_EQ(e.involved_object().kind(), "Pod");
  EXPECT_EQ(e.involved_object().name(), "web-1");
  EXPECT_EQ(e.involved_object().uid(), pod_.metadata().uid());
  EXPECT_EQ(e.type(), "Normal");
  EXPECT_EQ(e.reason(), "Scheduled");
  EXPECT_EQ(e.message(), "Successfully assigned default/web-1 to n1");
  EXPECT_EQ(e.source().component(), "default-scheduler");
  EXPECT_EQ(e.reporting_component(), "default-scheduler");
  EXPECT_EQ(e.count(), 1);
}

// A probe's output in a message may hold any bytes: those that are not UTF-8 are shown as
// U+FFFD (the Event is still written; the Client refuses strings that are not UTF-8).
TEST_F(EventRecorderTest, BytesThatAreNotUtf8AreWrittenAsReplacementCharacters) {
  ASSERT_TRUE(Record(kEventWarning, "Unhealthy\xff", "Liveness probe failed: caf\xc3 \xff\xfe ok \xc3\xa9").ok());
  std::vector<api::v1::Event> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason(), "Unhealthy\xEF\xBF\xBD");
  EXPECT_EQ(events[0].message(), "Liveness probe failed: caf\xEF\xBF\xBD \xEF\xBF\xBD ok \xc3\xa9");
}

// The involved object's kind and apiVersion come from the Scheme, not from the object's own
// type fields (which an object built in code often leaves empty).
TEST_F(EventRecorderTest, TheReferenceNamesTheKindEvenWhenTheObjectDoesNot) {
  api::v1::Pod bare = pod_;
  bare.clear_api_version();
  bare.clear_kind();
  ASSERT_TRUE(Record(kEventWarning, "FailedMount", "volume missing").ok());
  ASSERT_TRUE(recorder_->Record(bare, kEventNormal, "Pulled", "image present").ok());
  std::vector<api::v1::Event> events = Events();
  ASSERT_EQ(events.size(), 2u);
  for (const api::v1::Event& e : events) {
    EXPECT_EQ(e.involved_object().kind(), "Pod") << e.reason();
    EXPECT_EQ(e.involved_object().api_version(), "v1") << e.reason();
  }
}

// The recorder writes each Event into one it keeps: an Event about a Node after a Warning
// about a pod is the same as a fresh recorder's, nothing of the first left in it.
TEST_F(EventRecorderTest, AnEventCarriesNothingOfTheOneBefore) {
  absl::StatusOr<api::v1::Node> node = client_->Create(testing::MakeNode("n1"));
  ASSERT_TRUE(node.ok()) << node.status();
  ASSERT_TRUE(Record(kEventWarning, "BackOff", "Back-off restarting failed container").ok());
  ASSERT_TRUE(recorder_->Record(*node, kEventNormal, "NodeReady", "Node n1 is ready").ok());
  EventRecorder fresh(client_.get(), "kubelet");
  ASSERT_TRUE(fresh.Record(*node, kEventNormal, "NodeReady", "Node n1 is ready").ok());

  std::vector<api::v1::Event> about_node;
  for (api::v1::Event& e : Events()) {
    if (e.involved_object().kind() != "Node") continue;
    EXPECT_TRUE(e.involved_object().namespace_().empty());
    EXPECT_EQ(e.involved_object().uid(), node->metadata().uid());
    EXPECT_THAT(e.metadata().name(), ::testing::StartsWith("n1."));
    EXPECT_FALSE(e.metadata().uid().empty());
    // What differs between two Events written apart: their identity.
    for (auto* field : {e.mutable_metadata()->mutable_name(), e.mutable_metadata()->mutable_uid(),
                        e.mutable_metadata()->mutable_resource_version()}) {
      field->clear();
    }
    about_node.push_back(std::move(e));
  }
  ASSERT_EQ(about_node.size(), 2u);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(about_node[0], about_node[1]))
      << about_node[0].DebugString() << "\n---\n" << about_node[1].DebugString();
}

TEST_F(EventRecorderTest, TheSameEventWithinTenMinutesBumpsTheCount) {
  ASSERT_TRUE(Record(kEventWarning, "BackOff", "Back-off restarting").ok());
  executor_.AdvanceBy(absl::Minutes(9));
  ASSERT_TRUE(Record(kEventWarning, "BackOff", "Back-off restarting").ok());
  std::vector<api::v1::Event> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].count(), 2);
  EXPECT_EQ(events[0].last_timestamp().seconds() - events[0].first_timestamp().seconds(), 9 * 60);
  // Another message is another Event.
  ASSERT_TRUE(Record(kEventWarning, "BackOff", "Back-off pulling").ok());
  EXPECT_EQ(Events().size(), 2u);
}

TEST_F(EventRecorderTest, PastTheWindowANewEventIsWrittenAndRememberedOnce) {
  ASSERT_TRUE(Record(kEventNormal, "Pulled", "pulled").ok());
  executor_.AdvanceBy(absl::Minutes(11));
  ASSERT_TRUE(Record(kEventNormal, "Pulled", "pulled").ok());
  EXPECT_EQ(Events().size(), 2u);
  // The newer Event is the one bumped.
  ASSERT_TRUE(Record(kEventNormal, "Pulled", "pulled").ok());
  std::vector<api::v1::Event> events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].count() + events[1].count(), 3);
  // Many other keys later (more than twice the 4,096 always remembered) the key is
  // forgotten: what is remembered stays bounded, and forgetting a key that was written
  // twice is safe.
  for (int i = 0; i < 8200; ++i) {
    ASSERT_TRUE(Record(kEventNormal, "Other", fmt::format("m{}", i)).ok());
  }
  ASSERT_TRUE(Record(kEventNormal, "Pulled", "pulled").ok());
  EXPECT_EQ(Events().size(), 2u + 8200u + 1u);
}

TEST_F(EventRecorderTest, TheLast4096KeysAreRemembered) {
  // Wherever the key falls among the recorder's generations of keys, 4,095 other keys
  // later it is still remembered, as by Kubernetes' recorder (an LRU of 4,096 keys).
  int others = 0;
  for (int offset : {0, 1, 2047, 4095}) {
    for (int i = 0; i < offset; ++i) {
      ASSERT_TRUE(Record(kEventNormal, "Other", fmt::format("m{}", others++)).ok());
    }
    const std::string message = fmt::format("offset {}", offset);
    ASSERT_TRUE(Record(kEventNormal, "Pulled", message).ok());
    for (int i = 0; i < 4095; ++i) {
      ASSERT_TRUE(Record(kEventNormal, "Other", fmt::format("m{}", others++)).ok());
    }
    ASSERT_TRUE(Record(kEventNormal, "Pulled", message).ok());
    int pulled = 0;
    for (const api::v1::Event& event : Events()) {
      if (event.message() != message) continue;
      ++pulled;
      EXPECT_EQ(event.count(), 2) << message;
    }
    EXPECT_EQ(pulled, 1) << message;
  }
}

TEST_F(EventRecorderTest, AnEventDeletedMeanwhileIsWrittenAgain) {
  ASSERT_TRUE(Record(kEventNormal, "Started", "started").ok());
  std::vector<api::v1::Event> events = Events();
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(client_->Delete<api::v1::Event>("default", events[0].metadata().name()).ok());
  ASSERT_TRUE(Record(kEventNormal, "Started", "started").ok());
  events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].count(), 1);
}

TEST_F(EventRecorderTest, ANonObjectIsRefused) {
  api::v1::PodSpec spec;
  EXPECT_THAT(recorder_->Record(spec, kEventNormal, "X", "y"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an object")));
}

}  // namespace
}  // namespace orch::client

// ImageLocality, with the cases of kube-scheduler's image_locality_test.go.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugin_test_util.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler {
namespace {

using ::testing::ElementsAre;
using testing::MakeNode;
using testing::MakePod;
using testing::NodeBuilder;
using testing::PodBuilder;

constexpr int64_t kMB = 1024 * 1024;

NodeBuilder Node403002000(std::string name) {
  return MakeNode(std::move(name))
      .Image({"gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"}, 40 * kMB)
      .Image({"gcr.io/300:latest", "gcr.io/300:v1"}, 300 * kMB)
      .Image({"gcr.io/2000:latest"}, 2000 * kMB);
}
NodeBuilder Node25010(std::string name) {
  return MakeNode(std::move(name))
      .Image({"gcr.io/250:latest"}, 250 * kMB)
      .Image({"gcr.io/10:latest", "gcr.io/10:v1"}, 10 * kMB);
}
NodeBuilder Node60040900(std::string name) {
  return MakeNode(std::move(name))
      .Image({"gcr.io/600:latest"}, 600 * kMB)
      .Image({"gcr.io/40:latest"}, 40 * kMB)
      .Image({"gcr.io/900:latest"}, 900 * kMB);
}
NodeBuilder Node300600900(std::string name) {
  return MakeNode(std::move(name))
      .Image({"gcr.io/300:latest"}, 300 * kMB)
      .Image({"gcr.io/600:latest"}, 600 * kMB)
      .Image({"gcr.io/900:latest"}, 900 * kMB);
}
NodeBuilder Node400030(std::string name) {
  return MakeNode(std::move(name))
      .Image({"gcr.io/4000:latest"}, 4000 * kMB)
      .Image({"gcr.io/30:latest"}, 30 * kMB);
}
NodeBuilder Node203040(std::string name) {
  return MakeNode(std::move(name))
      .Image({"gcr.io/20:latest"}, 20 * kMB)
      .Image({"gcr.io/30:latest"}, 30 * kMB)
      .Image({"gcr.io/40:latest"}, 40 * kMB);
}

PodBuilder PodWithImages(std::vector<std::string> images) {
  PodBuilder pod = MakePod("p");
  for (std::string& image : images) pod.Image(std::move(image));
  return pod;
}

std::vector<int64_t> Scores(const PodBuilder& pod, const std::vector<NodeBuilder>& nodes) {
  std::vector<NodeInfo> infos;
  for (const NodeBuilder& n : nodes) infos.push_back(n.Info());
  testing::FakeSnapshot snapshot(std::move(infos));
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(&plugins::NewImageLocality, handle);
  testing::ScoreResult result = testing::RunScore(*plugin, *pod.Info(), snapshot.nodes());
  EXPECT_EQ(result.raw, result.normalized);  // scores are final: no normalization
  return result.normalized;
}

TEST(ImageLocalityTest, TwoImagesSpreadOnTwoNodesPreferTheLargerImage) {
  // node2: 100 * (250M/2 - 23M) / (1000M * 2 - 23M) = 5
  EXPECT_THAT(Scores(PodWithImages({"gcr.io/40", "gcr.io/250"}),
                     {Node403002000("node1"), Node25010("node2")}),
              ElementsAre(0, 5));
}

TEST(ImageLocalityTest, TwoImagesOnOneNodePreferThatNode) {
  // node1: 100 * ((40M + 300M)/2 - 23M) / (1000M * 2 - 23M) = 7
  EXPECT_THAT(Scores(PodWithImages({"gcr.io/40", "gcr.io/300"}),
                     {Node403002000("node1"), Node25010("node2")}),
              ElementsAre(7, 0));
}

TEST(ImageLocalityTest, AboveTheMaximumScoresTheMaximum) {
  EXPECT_THAT(Scores(PodWithImages({"gcr.io/10", "gcr.io/4000"}),
                     {Node400030("node1"), Node25010("node2")}),
              ElementsAre(100, 0));
}

TEST(ImageLocalityTest, SpreadOverMoreNodesLowersTheScore) {
  // node1: 100 * (4000M/3 - 23M) / (1000M * 2 - 23M) = 66
  EXPECT_THAT(Scores(PodWithImages({"gcr.io/10", "gcr.io/4000"}),
                     {Node400030("node1"), Node25010("node2"), MakeNode("node3")}),
              ElementsAre(66, 0, 0));
}

TEST(ImageLocalityTest, MultipleLargeImages) {
  // node1: 100 * (600M*2/3 + 900M*2/3 - 23M) / (1000M*3 - 23M) = 32
  // node2: 100 * (300M*1/3 + 600M*2/3 + 900M*2/3 - 23M) / (1000M*3 - 23M) = 36
  EXPECT_THAT(Scores(PodWithImages({"gcr.io/300", "gcr.io/600", "gcr.io/900"}),
                     {Node60040900("node1"), Node300600900("node2"), MakeNode("node3")}),
              ElementsAre(32, 36, 0));
}

TEST(ImageLocalityTest, MultipleSmallImages) {
  // node1: 100 * (30M + 40M/2 - 23M) / (1000M*2 - 23M) = 1; node2: 30M alone is 0
  EXPECT_THAT(Scores(PodWithImages({"gcr.io/30", "gcr.io/40"}),
                     {Node203040("node1"), Node400030("node2")}),
              ElementsAre(1, 0));
}

TEST(ImageLocalityTest, InitContainerImagesCount) {
  // node1: 100 * (300M/2 - 23M) / (1000M*2 - 23M) = 6
  PodBuilder pod = MakePod("p").Image("gcr.io/30");
  pod.SpecYaml("initContainers: [{name: init, image: gcr.io/300}]");
  EXPECT_THAT(Scores(pod, {Node403002000("node1"), Node203040("node2")}), ElementsAre(6, 0));
}

TEST(ImageLocalityTest, PodWithoutContainersScoresZero) {
  EXPECT_THAT(Scores(MakePod("p"), {Node403002000("node1")}), ElementsAre(0));
}

TEST(ImageLocalityTest, TaggedAndDigestImagesMatchExactly) {
  NodeBuilder node = MakeNode("node1")
                         .Image({"gcr.io/app:v2"}, 3000 * kMB)
                         .Image({"gcr.io/db@sha256:abc"}, 3000 * kMB);
  EXPECT_THAT(Scores(PodWithImages({"gcr.io/app:v2"}), {node}), ElementsAre(100));
  EXPECT_THAT(Scores(PodWithImages({"gcr.io/app"}), {node}), ElementsAre(0));  // :latest
  EXPECT_THAT(Scores(PodWithImages({"gcr.io/db@sha256:abc"}), {node}), ElementsAre(100));
}

}  // namespace
}  // namespace orch::scheduler

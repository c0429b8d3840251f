// The Website operator's own tests, on orch::testing::TestCluster: what an operator author
// writes to test an operator in virtual time.
#include "website_operator.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/controller/ownership.h"
#include "orch/testing/test_cluster.h"

namespace example {
namespace {

namespace v1 = orch::api::v1;
using ::testing::HasSubstr;

class WebsiteOperatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scheme_ = orch::api::Scheme::Builtin();
    ASSERT_TRUE(RegisterWebsite(scheme_).ok());
    cluster_ = orch::testing::TestCluster::Start({.nodes = 3, .scheme = &scheme_}).value();
    controller_ = AddWebsiteController(&cluster_->manager()).value();
  }

  orch::client::Client& client() { return cluster_->client(); }
  Website Site(const std::string& name) { return client().Get<Website>("default", name).value(); }
  void CreateSite(const std::string& name, int replicas, const std::string& image) {
    Website site;
    site.mutable_metadata()->set_name(name);
    site.mutable_spec()->set_replicas(replicas);
    site.mutable_spec()->set_image(image);
    ASSERT_TRUE(client().Create(site).ok());
  }
  void WaitReady(const std::string& name, int replicas) {
    absl::Status status = cluster_->WaitFor(
        [&] {
          Website site = Site(name);
          return site.status().ready_replicas() == replicas && site.status().phase() == "Ready";
        },
        absl::Minutes(2), name + " ready");
    ASSERT_TRUE(status.ok()) << status << "\n" << Site(name).DebugString();
  }

  orch::api::Scheme scheme_;
  std::unique_ptr<orch::testing::TestCluster> cluster_;
  orch::controller::Controller* controller_ = nullptr;
};

TEST_F(WebsiteOperatorTest, MakesAnOwnedDeploymentAndReportsItReady) {
  CreateSite("blog", 3, "nginx:1.25");
  WaitReady("blog", 3);
  const v1::Deployment d = client().Get<v1::Deployment>("default", "blog").value();
  EXPECT_EQ(d.spec().replicas(), 3);
  EXPECT_EQ(d.spec().template_().spec().containers(0).image(), "nginx:1.25");
  EXPECT_TRUE(orch::controller::IsOwnedBy(d, Site("blog")));
  EXPECT_EQ(Site("blog").status().observed_generation(), Site("blog").metadata().generation());
}

TEST_F(WebsiteOperatorTest, FollowsScaleAndImageChanges) {
  CreateSite("blog", 2, "nginx:1.25");
  WaitReady("blog", 2);
  Website site = Site("blog");
  site.mutable_spec()->set_replicas(4);
  site.mutable_spec()->set_image("nginx:1.26");
  ASSERT_TRUE(client().Update(site).ok());
  WaitReady("blog", 4);
  const auto pods = client().List<v1::Pod>("default").value();
  int new_image = 0;
  for (const v1::Pod& p : pods.items) {
    if (!p.metadata().has_deletion_timestamp() && p.spec().containers(0).image() == "nginx:1.26") {
      ++new_image;
    }
  }
  EXPECT_EQ(new_image, 4);
}

TEST_F(WebsiteOperatorTest, PutsBackADeploymentDeletedByHand) {
  CreateSite("blog", 1, "nginx:1.25");
  WaitReady("blog", 1);
  const std::string uid = client().Get<v1::Deployment>("default", "blog")->metadata().uid();
  ASSERT_TRUE(client().Delete<v1::Deployment>("default", "blog").ok());
  ASSERT_TRUE(cluster_
                  ->WaitFor(
                      [&] {
                        auto d = client().Get<v1::Deployment>("default", "blog");
                        return d.ok() && d->metadata().uid() != uid;
                      },
                      absl::Minutes(1), "a new deployment")
                  .ok());
}

TEST_F(WebsiteOperatorTest, LeavesADeploymentItDoesNotOwnAlone) {
  v1::Deployment squatter;
  squatter.mutable_metadata()->set_name("blog");
  squatter.mutable_spec()->set_replicas(1);
  (*squatter.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "other";
  (*squatter.mutable_spec()->mutable_template_()->mutable_metadata()->mutable_labels())["app"] = "other";
  auto* c = squatter.mutable_spec()->mutable_template_()->mutable_spec()->add_containers();
  c->set_name("main");
  c->set_image("other:1");
  ASSERT_TRUE(client().Create(squatter).ok());
  CreateSite("blog", 3, "nginx:1.25");
  cluster_->RunFor(absl::Minutes(1));
  EXPECT_EQ(client().Get<v1::Deployment>("default", "blog")->spec().replicas(), 1);
  const auto stats = controller_->stats();
  EXPECT_GE(stats.terminal_errors, 1);
  EXPECT_EQ(stats.errors, 0);  // not retried with backoff
  EXPECT_THAT(stats.last_error, HasSubstr("is not owned by website blog"));
}

TEST_F(WebsiteOperatorTest, ConvergesWhileTheStoreMisbehaves) {
  using Op = orch::testing::FaultStore::Op;
  CreateSite("blog", 3, "nginx:1.25");
  // From here every part of the cluster meets conflicts and outages, and its caches miss
  // what happened while their watches were broken.
  orch::testing::FaultStore& faults = cluster_->faults();
  faults.SetRandomFaults({.conflict_rate = 0.3, .unavailable_rate = 0.2});
  for (int i = 0; i < 3; ++i) {
    cluster_->RunFor(absl::Seconds(10));
    faults.BreakWatches();
  }
  faults.ClearFaults();
  WaitReady("blog", 3);
  EXPECT_GT(faults.Injected(), 0);
  // One Deployment, never a second; the pods its ReplicaSet needed, no more.
  EXPECT_EQ(faults.Succeeded(Op::kCreate, "/registry/deployments/"), 1);
  EXPECT_EQ(faults.Succeeded(Op::kCreate, "/registry/pods/"), 3);
}

TEST_F(WebsiteOperatorTest, BadWebsitesAreRefusedWithTheirFieldPath) {
  Website site;
  site.mutable_metadata()->set_name("bad");
  site.mutable_spec()->set_replicas(-1);
  site.mutable_spec()->set_image("nginx");
  EXPECT_EQ(client().Create(site).status().message(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
  site.mutable_spec()->set_replicas(1);
  site.mutable_spec()->clear_image();
  EXPECT_EQ(client().Create(site).status().message(), "spec.image: Required value");
}

}  // namespace
}  // namespace example

// The Website operator on an in-process test cluster: a Website asks for 3 replicas of a
// web server, the operator makes a Deployment of them, the built-in controllers, the
// scheduler and the fake nodes run them, and the Website reports them ready; then it is
// scaled to 5. Everything runs in virtual time, the same on every run.
#include <cstdio>

#include "orch/testing/test_cluster.h"
#include "website_operator.h"

namespace {

int Run() {
  orch::api::Scheme scheme = orch::api::Scheme::Builtin();
  if (!example::RegisterWebsite(scheme).ok()) return 1;
  auto cluster = orch::testing::TestCluster::Start({.nodes = 3, .scheme = &scheme});
  if (!cluster.ok() || !example::AddWebsiteController(&(*cluster)->manager()).ok()) return 1;
  orch::client::Client& client = (*cluster)->client();

  example::Website site;
  site.mutable_metadata()->set_name("blog");
  site.mutable_spec()->set_replicas(3);
  site.mutable_spec()->set_image("nginx:1.25");
  if (!client.Create(site).ok()) return 1;

  for (int replicas : {3, 5}) {
    if (replicas != 3) {
      auto current = client.Get<example::Website>("default", "blog");
      if (!current.ok()) return 1;
      current->mutable_spec()->set_replicas(replicas);
      if (!client.Update(*current).ok()) return 1;
    }
    absl::Status ready = (*cluster)->WaitFor(
        [&] {
          auto got = client.Get<example::Website>("default", "blog");
          return got.ok() && got->status().ready_replicas() == replicas &&
                 got->status().phase() == "Ready";
        },
        absl::Minutes(2), "the website to be ready");
    if (!ready.ok()) {
      std::printf("%s\n", std::string(ready.message()).c_str());
      return 1;
    }
    std::printf("website default/blog: %d/%d ready after %s of cluster time\n", replicas,
                replicas, absl::FormatDuration((*cluster)->Now() - absl::FromUnixSeconds(1767225600)).c_str());
  }
  return 0;
}

}  // namespace

int main() { return Run(); }

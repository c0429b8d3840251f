// A controller written with orch's SDK. For every ReplicaSet it keeps one "canary" Pod,
// named <replicaset>-canary, built from the ReplicaSet's template and controlled by it;
// a finalizer on the ReplicaSet makes sure the canary goes before the ReplicaSet does.
//
//   ReplicaSet created      -> finalizer added, canary created
//   canary deleted by hand  -> (Owns<Pod>) the ReplicaSet is reconciled: canary recreated
//   ReplicaSet deleted      -> deletionTimestamp set (finalizer): canary deleted,
//                              finalizer removed, ReplicaSet gone
//
// Everything runs on a VirtualExecutor, so the output is the same on every run.
#include <cstdio>
#include <memory>
#include <string>

#include "orch/api/scheme.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/events.h"
#include "orch/client/informer.h"
#include "orch/controller/controller.h"
#include "orch/controller/ownership.h"
#include "orch/store/memory_store.h"

namespace v1 = orch::api::v1;
namespace controller = orch::controller;

namespace {

constexpr char kFinalizer[] = "example.orch.dev/canary";

class CanaryReconciler : public controller::Reconciler {
 public:
  CanaryReconciler(orch::client::Client* client, orch::client::Lister<v1::ReplicaSet> sets,
                   orch::client::Lister<v1::Pod> pods, orch::client::EventRecorder* events)
      : client_(client), sets_(sets), pods_(pods), events_(events) {}

  controller::Result Reconcile(const controller::Request& req) override {
    auto cached = sets_.Get(req.ns, req.name);
    if (absl::IsNotFound(cached.status())) return {};  // deleted: nothing to keep
    ORCH_RETURN_IF_ERROR(cached.status());
    v1::ReplicaSet rs = **cached;  // cached objects are shared: change a copy
    const std::string canary = req.name + "-canary";

    if (rs.metadata().has_deletion_timestamp()) {
      if (!controller::ContainsFinalizer(rs, kFinalizer)) return {};
      absl::Status deleted = client_->Delete<v1::Pod>(req.ns, canary);
      if (!deleted.ok() && !absl::IsNotFound(deleted)) return deleted;
      std::printf("cleaned up %s/%s\n", req.ns.c_str(), canary.c_str());
      ORCH_RETURN_IF_ERROR(controller::RemoveFinalizer(rs, kFinalizer).status());
      return client_->Update(rs).status();  // a conflict is retried with backoff
    }

    ORCH_ASSIGN_OR_RETURN(bool added, controller::AddFinalizer(rs, kFinalizer));
    if (added) {
      ORCH_ASSIGN_OR_RETURN(rs, client_->Update(rs));
    }

    if (pods_.Get(req.ns, canary).ok()) return {};
    v1::Pod pod;
    *pod.mutable_metadata() = rs.spec().template_().metadata();
    pod.mutable_metadata()->set_name(canary);
    pod.mutable_metadata()->set_namespace_(req.ns);
    *pod.mutable_spec() = rs.spec().template_().spec();
    ORCH_RETURN_IF_ERROR(controller::SetControllerReference(rs, pod, *client_->scheme()));
    absl::StatusOr<v1::Pod> created = client_->Create(pod);
    if (absl::IsAlreadyExists(created.status())) return {};  // cache behind
    ORCH_RETURN_IF_ERROR(created.status());
    (void)events_->Record(rs, orch::client::kEventNormal, "SuccessfulCreate",
                          "Created pod: " + canary);
    std::printf("created %s/%s\n", req.ns.c_str(), canary.c_str());
    return {};
  }

 private:
  orch::client::Client* const client_;
  const orch::client::Lister<v1::ReplicaSet> sets_;
  const orch::client::Lister<v1::Pod> pods_;
  orch::client::EventRecorder* const events_;
};

v1::ReplicaSet NewReplicaSet() {
  v1::ReplicaSet rs;
  rs.mutable_metadata()->set_name("web");
  rs.mutable_metadata()->set_namespace_("default");
  rs.mutable_spec()->set_replicas(3);
  (*rs.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "web";
  auto* tmpl = rs.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = "web";
  v1::Container* c = tmpl->mutable_spec()->add_containers();
  c->set_name("web");
  c->set_image("nginx:1.25");
  return rs;
}

int Run() {
  orch::VirtualExecutor executor;
  orch::store::MemoryStoreOptions store_options;
  store_options.clock = &executor.clock();
  auto store = orch::store::MemoryStore::Open(store_options);
  if (!store.ok()) return 1;
  orch::client::Client client(store->get(), &orch::api::Scheme::Builtin(), &executor.clock());
  orch::client::SharedInformerFactory informers(&client, &executor);
  auto manager = controller::Manager::Create(
      {.client = &client, .informers = &informers, .executor = &executor});
  auto sets = informers.InformerFor<v1::ReplicaSet>();
  auto pods = informers.InformerFor<v1::Pod>();
  if (!manager.ok() || !sets.ok() || !pods.ok()) return 1;

  CanaryReconciler reconciler(&client, sets->lister(), pods->lister(),
                              (*manager)->EventRecorderFor("canary-controller"));
  auto added = controller::Builder<v1::ReplicaSet>(manager->get())
                   .Named("canary")
                   .Owns<v1::Pod>()
                   .Complete(&reconciler);
  if (!added.ok() || !(*manager)->Start().ok()) return 1;
  executor.RunUntilIdle();

  if (!client.Create(NewReplicaSet()).ok()) return 1;
  executor.RunUntilIdle();

  std::printf("deleting the canary by hand\n");
  if (!client.Delete<v1::Pod>("default", "web-canary").ok()) return 1;
  executor.RunUntilIdle();

  std::printf("deleting the replicaset\n");
  if (!client.Delete<v1::ReplicaSet>("default", "web").ok()) return 1;
  executor.RunUntilIdle();

  const controller::ControllerStats stats = (*added)->stats();
  std::printf("%lld reconciles, %lld errors\n", static_cast<long long>(stats.reconciles),
              static_cast<long long>(stats.errors));
  if (client.Get<v1::ReplicaSet>("default", "web").ok()) return 1;
  std::printf("default/web is gone\n");
  return 0;
}

}  // namespace

int main() { return Run(); }

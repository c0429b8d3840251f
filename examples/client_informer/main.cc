// A host that writes objects with the typed client and follows them with a shared
// informer: the pattern every orch controller uses. Everything runs on a VirtualExecutor,
// so the output is the same on every run.
//
//   pods created  -> informer adds      -> "scheduler" binds them (RetryOnConflict)
//   binds         -> informer updates   -> index spec.nodeName answers "what runs on n1?"
//   graceful delete -> deletionTimestamp -> the node agent's final delete -> informer delete
#include <cstdio>
#include <string>
#include <vector>

#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/client/retry.h"
#include "orch/store/memory_store.h"

namespace v1 = orch::api::v1;
using orch::client::Client;

namespace {

v1::Pod NewPod() {
  v1::Pod pod;
  pod.mutable_metadata()->set_generate_name("web-");
  (*pod.mutable_metadata()->mutable_labels())["app"] = "web";
  v1::Container* c = pod.mutable_spec()->add_containers();
  c->set_name("web");
  c->set_image("nginx:1.25");
  return pod;
}

// Binds a pod to a node: a read-modify-write that retries if someone else wrote first.
absl::Status Bind(Client& client, const std::string& name, const std::string& node) {
  return orch::client::RetryOnConflict(
      orch::client::kDefaultRetry,
      [&]() -> absl::Status {
        ORCH_ASSIGN_OR_RETURN(v1::Pod pod, client.Get<v1::Pod>("default", name));
        pod.mutable_spec()->set_node_name(node);
        return client.Update(pod).status();
      },
      orch::client::Sleeper::None());  // inside virtual time: retry at once
}

int Run() {
  orch::VirtualExecutor executor;
  orch::store::MemoryStoreOptions store_options;
  store_options.clock = &executor.clock();
  store_options.executor = &executor;
  auto store = orch::store::MemoryStore::Open(store_options);
  if (!store.ok()) return 1;
  Client client(store->get(), &orch::api::Scheme::Builtin(), &executor.clock(), /*seed=*/1);

  orch::client::SharedInformerFactory factory(&client, &executor);
  auto pods = factory.InformerFor<v1::Pod>();
  if (!pods.ok()) return 1;
  if (!pods->AddIndexer("spec.nodeName", [](const v1::Pod& p) {
             return std::vector<std::string>{p.spec().node_name()};
           }).ok()) {
    return 1;
  }
  pods->AddEventHandler({
      .on_add = [](const auto& p) { std::printf("add    %s\n", p->metadata().name().c_str()); },
      .on_update =
          [](const auto& old_pod, const auto& p) {
            if (old_pod->spec().node_name() != p->spec().node_name()) {
              std::printf("bound  %s -> %s\n", p->metadata().name().c_str(),
                          p->spec().node_name().c_str());
            } else if (p->metadata().has_deletion_timestamp()) {
              std::printf("ending %s (grace %llds)\n", p->metadata().name().c_str(),
                          static_cast<long long>(p->metadata().deletion_grace_period_seconds()));
            }
          },
      .on_delete =
          [](const auto& p) { std::printf("delete %s\n", p->metadata().name().c_str()); },
  });
  factory.Start();
  executor.RunUntilIdle();
  if (!pods->HasSynced()) return 1;

  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    auto pod = client.Create(NewPod());
    if (!pod.ok()) return 1;
    names.push_back(pod->metadata().name());
  }
  executor.RunUntilIdle();
  for (size_t i = 0; i < names.size(); ++i) {
    if (!Bind(client, names[i], i < 2 ? "n1" : "n2").ok()) return 1;
  }
  executor.RunUntilIdle();
  auto on_n1 = pods->lister().ByIndex("spec.nodeName", "n1");
  if (!on_n1.ok()) return 1;
  std::printf("n1 runs %zu pods\n", on_n1->size());

  // A bound pod goes gracefully: marked now, removed by its node agent's delete with grace 0.
  if (!client.Delete<v1::Pod>("default", names[0]).ok()) return 1;
  executor.RunUntilIdle();
  executor.AdvanceBy(absl::Seconds(30));
  orch::client::DeleteOptions now;
  now.grace_period_seconds = 0;
  if (!client.Delete<v1::Pod>("default", names[0], now).ok()) return 1;
  executor.RunUntilIdle();
  on_n1 = pods->lister().ByIndex("spec.nodeName", "n1");
  std::printf("n1 runs %zu pod\n", on_n1->size());
  return on_n1->size() == 1 ? 0 : 1;
}

}  // namespace

int main() { return Run(); }

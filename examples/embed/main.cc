// The smallest host: a memory store, one object written and watched back.
// Built in orch's tree and, by the install test, from the installed package alone.
#include <cstdio>
#include <vector>

#include "orch/api/v1/meta.pb.h"
#include "orch/store/keys.h"
#include "orch/store/memory_store.h"

int main() {
  auto store = orch::store::MemoryStore::Open();
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  auto watcher = (*store)->Watch(orch::store::ResourcePrefix("namespaces"));
  if (!watcher.ok()) return 1;

  orch::api::v1::ObjectHeader ns;
  ns.set_api_version("v1");
  ns.set_kind("Namespace");
  ns.mutable_metadata()->set_name("apps");
  auto revision = (*store)->Create(orch::store::ObjectKey("namespaces", "", "apps"),
                                   ns.SerializeAsString());
  if (!revision.ok()) return 1;

  std::vector<orch::store::EventPtr> events;
  if (!(*watcher)->Poll(&events).ok() || events.size() != 1) return 1;
  std::printf("watched %s at revision %lld\n", events[0]->kv.key.c_str(),
              static_cast<long long>(events[0]->kv.mod_revision));
  return events[0]->kv.mod_revision == *revision ? 0 : 1;
}

// orch-quickstart: the main job of `scripts/run.sh`, on the embedded defaults.
//
// A live in-process control plane in one process: a durable MemoryStore, the typed
// client, shared informers on a thread pool. It applies manifests (built-in ones, or the
// files given with -f), follows them through informers, scales the Deployment with a
// conflict-safe read-modify-write, then closes the store, reopens it from disk and shows
// that every object and revision survived.
//
//   orch-quickstart [-f FILE]... [--data-dir DIR]
// Without --data-dir it works in a fresh temporary directory and removes it at the end.
//
// Exits 0 on success, 1 on a failure (printed), 2 on bad arguments or manifests.
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/base/status.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/client/retry.h"
#include "orch/store/memory_store.h"

namespace v1 = orch::api::v1;

namespace {

constexpr char kBuiltinManifests[] = R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        command: ["httpd", "-f", "-p", "8080"]
        ports: [{name: http, containerPort: 8080}]
        resources:
          requests: {cpu: 250m, memory: 64Mi}
          limits: {cpu: "1", memory: 128Mi}
        readinessProbe:
          httpGet: {path: /, port: http}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
)";

struct Args {
  std::vector<std::string> files;
  std::string data_dir;
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "-f" || arg == "--data-dir") && i + 1 < argc) {
      (arg == "-f" ? args->files.emplace_back() : args->data_dir) = argv[++i];
    } else {
      std::fprintf(stderr, "usage: orch-quickstart [-f FILE]... [--data-dir DIR]\n");
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::vector<orch::api::DecodedObject>> LoadManifests(const Args& args) {
  if (args.files.empty()) {
    return orch::api::DecodeManifests(kBuiltinManifests, "built-in manifests",
                                      orch::api::Scheme::Builtin());
  }
  std::vector<orch::api::DecodedObject> all;
  for (const std::string& path : args.files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(path + ": cannot open");
    std::stringstream text;
    text << in.rdbuf();
    ORCH_ASSIGN_OR_RETURN(auto objects, orch::api::DecodeManifests(
                                            text.str(), path, orch::api::Scheme::Builtin()));
    for (auto& object : objects) all.push_back(std::move(object));
  }
  return all;
}

std::string Describe(const orch::api::Kind& kind, const google::protobuf::Message& object) {
  v1::ObjectHeader header;
  header.ParseFromString(object.SerializeAsString());
  const auto& meta = header.metadata();
  return kind.kind + " " + (meta.namespace_().empty() ? "" : meta.namespace_() + "/") +
         meta.name();
}

// Creates each object, or updates it in place when it exists (a re-run on the same
// data directory), as `kubectl apply` would for a whole-object apply.
absl::Status Apply(orch::client::Client& client, std::vector<orch::api::DecodedObject>& objects) {
  for (auto& decoded : objects) {
    google::protobuf::Message& object = *decoded.object;
    absl::Status created = client.CreateObject(&object);
    if (created.code() == absl::StatusCode::kAlreadyExists) {
      // No resourceVersion in a manifest: the update is unconditional, as a forced apply.
      ORCH_RETURN_IF_ERROR(client.UpdateObject(&object));
      std::printf("applied  %s (updated)\n", Describe(*decoded.kind, object).c_str());
      continue;
    }
    ORCH_RETURN_IF_ERROR(created);
    std::printf("applied  %s (created)\n", Describe(*decoded.kind, object).c_str());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<orch::store::MemoryStore>> OpenStore(const std::string& dir) {
  orch::store::MemoryStoreOptions options;
  options.data_dir = dir;
  return orch::store::MemoryStore::Open(options);
}

int Run(const Args& args) {
  auto objects = LoadManifests(args);
  if (!objects.ok()) {
    std::fprintf(stderr, "%s\n", std::string(objects.status().message()).c_str());
    return 2;
  }
  std::string dir = args.data_dir;
  if (dir.empty()) {
    char pattern[] = "/tmp/orch-quickstart-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 1;
    dir = pattern;
  }
  // A directory made here is removed on the way out; one given with --data-dir is kept.
  struct RemoveTemporary {
    std::string dir;
    ~RemoveTemporary() {
      std::error_code ignored;
      if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{args.data_dir.empty() ? dir : std::string()};
  std::printf("data directory %s\n", dir.c_str());

  int64_t revision_before = 0;
  std::map<std::string, int> counted;
  {
    auto store = OpenStore(dir);
    if (!store.ok()) {
      std::fprintf(stderr, "open store: %s\n", store.status().ToString().c_str());
      return 1;
    }
    orch::ThreadPoolExecutor executor(2);
    orch::client::Client client(store->get(), &orch::api::Scheme::Builtin(),
                                &orch::Clock::Real());
    orch::client::SharedInformerFactory informers(&client, &executor);
    auto deployments = informers.InformerFor<v1::Deployment>();
    if (!deployments.ok()) return 1;
    orch::Notification scaled;
    deployments->AddEventHandler({
        .on_add = [](const auto& d) {
          std::printf("informer added   Deployment %s replicas=%d\n",
                      d->metadata().name().c_str(), d->spec().replicas());
        },
        .on_update = [&scaled](const auto& old_d, const auto& d) {
          std::printf("informer updated Deployment %s replicas %d -> %d (generation %lld)\n",
                      d->metadata().name().c_str(), old_d->spec().replicas(),
                      d->spec().replicas(), static_cast<long long>(d->metadata().generation()));
          if (d->spec().replicas() == 5) scaled.Notify();
        },
    });
    informers.Start();
    if (!informers.WaitForCacheSync(absl::Seconds(10))) return 1;

    if (absl::Status applied = Apply(client, *objects); !applied.ok()) {
      std::fprintf(stderr, "apply: %s\n", applied.ToString().c_str());
      return 1;
    }
    // Scale every Deployment to 5 replicas: a read-modify-write that retries on conflict.
    // (Listed from the store: the informer may not have seen the new objects yet.)
    auto applied = client.List<v1::Deployment>("");
    if (!applied.ok()) return 1;
    for (const v1::Deployment& d : applied->items) {
      absl::Status status = orch::client::RetryOnConflict(orch::client::kDefaultRetry, [&] {
        ORCH_ASSIGN_OR_RETURN(v1::Deployment current,
                              client.Get<v1::Deployment>(d.metadata().namespace_(),
                                                         d.metadata().name()));
        current.mutable_spec()->set_replicas(5);
        return client.Update(current).status();
      });
      if (!status.ok()) {
        std::fprintf(stderr, "scale: %s\n", status.ToString().c_str());
        return 1;
      }
    }
    if (!scaled.WaitForNotificationWithTimeout(absl::Seconds(10))) return 1;
    revision_before = *(*store)->CurrentRevision();
  }  // informers stop, threads join, the store closes

  auto reopened = OpenStore(dir);
  if (!reopened.ok()) {
    std::fprintf(stderr, "reopen store: %s\n", reopened.status().ToString().c_str());
    return 1;
  }
  auto all = (*reopened)->List("/registry/");
  if (!all.ok()) return 1;
  for (const auto& kv : all->items) {
    // The Service's cluster IP reservation is not an object.
    if (std::string_view(kv.key).starts_with("/registry/ranges/")) continue;
    v1::ObjectHeader header;
    header.ParseFromString(kv.value.str());
    ++counted[header.kind()];
  }
  std::printf("reopened the store at revision %lld (was %lld):",
              static_cast<long long>(all->revision), static_cast<long long>(revision_before));
  for (const auto& [kind, n] : counted) std::printf(" %d %s", n, kind.c_str());
  std::printf("\n");
  auto web = orch::client::Client(reopened->get(), &orch::api::Scheme::Builtin(),
                                  &orch::Clock::Real())
                 .Get<v1::Deployment>("shop", "web");
  if (args.files.empty() && (!web.ok() || web->spec().replicas() != 5)) return 1;
  return all->revision == revision_before ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) return 2;
  return Run(args);
}

// Client: typed reads and writes of API objects, with the Kubernetes apiserver's rules.
//
// A Client is orch's apiserver registry and client-go typed client in one: every write
// goes through the kind's defaulting and validation and the server-side rules below, then
// to the Store with compare-and-swap on the object's revision. Nothing else writes API
// objects, so these rules hold for every object in a Store (tools that write raw keys
// bypass them at their own risk).
//
//   Client client(store.get(), &api::Scheme::Builtin(), &executor.clock(), /*seed=*/42);
//   v1::Deployment d = ...;
//   ORCH_ASSIGN_OR_RETURN(d, client.Create(d));       // uid, resourceVersion, ... filled
//   d.mutable_spec()->set_replicas(5);
//   ORCH_ASSIGN_OR_RETURN(d, client.Update(d));       // kAborted if someone wrote first
//
// Server-side rules (docs/reference/client.md has the full list and every departure from
// Kubernetes):
//   Create  fills uid (from the seeded id source), creationTimestamp (from the clock),
//           generation 1 and resourceVersion; `generateName` gets 5 random characters
//           (retried on collision); status is reset (except Node's, as in Kubernetes; a
//           Pod gets phase "Pending"); namespaced kinds get namespace "default" when it is
//           empty, cluster-scoped kinds must have none; a set resourceVersion is an error.
//           Namespaces are not required to exist (not enforced yet).
//   Update  metadata.resourceVersion is the expected revision (empty: unconditional);
//           status is kept from the stored object; uid and creationTimestamp cannot
//           change; generation is bumped when anything but metadata and status changes;
//           finalizers cannot be added once deletionTimestamp is set; removing the last
//           finalizer of an object deleted without grace deletes it; a no-op update
//           writes nothing and returns the stored object.
//   UpdateStatus  takes only `status` from the argument (kinds with a status field).
//   Delete  objects with finalizers (or a Foreground/Orphan propagation policy, which adds
//           the "foregroundDeletion"/"orphan" finalizer) get deletionTimestamp and stay;
//           a Pod bound to a node and not terminal gets deletionTimestamp = now + grace and
//           stays until deleted with grace 0 (the node agent's job); anything else goes.
//   Strings every write refuses an object with a string field that is not valid UTF-8,
//           at any depth: protobuf would store it and then not parse it back
//           ("metadata.annotations[a]: Invalid value: must be valid UTF-8").
//
// Errors (absl::Status; messages shaped as Kubernetes'):
//   kInvalidArgument   bad input, naming the field path ("metadata.name: Required value:
//                      ..."), or T is not a kind of this Client's Scheme. Nothing written.
//   kNotFound          `deployments "web" not found`
//   kAlreadyExists     `deployments "web" already exists` (prefixed "object is being
//                      deleted: " while the existing one is terminating)
//   kAborted           `Operation cannot be fulfilled on deployments "web": the object has
//                      been modified; please apply your changes to the latest version and
//                      try again` — re-read and retry (see RetryOnConflict in retry.h).
//   kFailedPrecondition  a Delete precondition on uid failed: the object was replaced.
//   kOutOfRange        List at a compacted resourceVersion: list again at the latest.
//   kUnavailable, kDataLoss  from the Store, unchanged.
//
// Thread safety: every method may be called concurrently from any thread; concurrent
// writers of one object are serialized by the Store's compare-and-swap.
// Ownership: the Store, Scheme and Clock are not owned and must outlive the Client.
#ifndef ORCH_CLIENT_CLIENT_H_
#define ORCH_CLIENT_CLIENT_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/selector.h"
#include "orch/base/clock.h"
#include "orch/base/ipv4.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/store/store.h"

namespace orch::client {

namespace internal {
class StringCheck;  // the UTF-8 check of every write (src/client/string_check.h)
}  // namespace internal

// The namespace an empty namespace means for namespaced kinds (except in List, where it
// means every namespace).
inline constexpr std::string_view kDefaultNamespace = "default";

// Finalizers added by Delete's propagation policies, consumed by the garbage collector.
inline constexpr std::string_view kForegroundDeletionFinalizer = "foregroundDeletion";
inline constexpr std::string_view kOrphanFinalizer = "orphan";

struct ListOptions {
  // Only objects whose labels match; empty matches all.
  api::LabelSelector label_selector;
  // Only objects whose fields match (metadata.name, spec.nodeName, status.phase, ...);
  // empty matches all. kInvalidArgument if a path is not a scalar field of the kind.
  api::FieldSelector field_selector;
  // At most this many items; 0 means all. When more remain, the list has a continue token.
  int64_t limit = 0;
  // From a previous list of the same kind and namespace: the next page, consistent with
  // the first page's resourceVersion.
  std::string continue_token;
  // "" (or "0"): the latest state. A decimal revision: the state exactly at that revision
  // (kOutOfRange once compacted). Kubernetes' "not older than" mode is not offered.
  std::string resource_version;
};

// A page of objects, as Kubernetes' <Kind>List.
template <typename T>
struct ObjectList {
  std::vector<T> items;          // ordered by namespace, then name
  std::string resource_version;  // the revision this list is consistent at
  std::string continue_token;    // empty on the last page
};

// Where Services get their addresses (Kubernetes' --service-cluster-ip-range and
// --service-node-port-range). Every Client of one store must be given the same ranges.
struct ServiceRanges {
  std::string cluster_ip_range = "10.96.0.0/12";  // IPv4, prefix length 8 to 30
  int32_t node_port_min = 30000;
  int32_t node_port_max = 32767;
};

enum class PropagationPolicy {
  kBackground,  // delete now; the garbage collector deletes dependents afterwards
  kForeground,  // keep the object (finalizer "foregroundDeletion") until dependents are gone
  kOrphan,      // keep the object (finalizer "orphan") until dependents are orphaned
};

struct Preconditions {
  std::optional<std::string> uid;               // the object must have this uid
  std::optional<std::string> resource_version;  // ... and this resourceVersion
};

struct DeleteOptions {
  // Pods only (other kinds have no graceful deletion): seconds the pod gets to stop;
  // unset means spec.terminationGracePeriodSeconds (30 when unset); 0 deletes now;
  // negative means 1. An unbound or terminal pod is always deleted at once.
  std::optional<int64_t> grace_period_seconds;
  // Unset leaves the object's finalizers as they are (Background in effect).
  std::optional<PropagationPolicy> propagation_policy;
  Preconditions preconditions;
};

// Metadata of a list, for the untyped core.
struct ListMeta {
  std::string resource_version;
  std::string continue_token;
};

class Client {
 public:
  // `seed` drives uids and generated names: two Clients with the same seed, given the
  // same calls in the same order, produce the same objects.
  Client(store::Store* store, const api::Scheme* scheme, Clock* clock, uint64_t seed = 1);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // ---- typed API: T is a kind's message (v1::Pod, v1::Deployment, an operator's kind).

  // The object now. An empty `ns` means "default" for namespaced kinds.
  template <typename T>
  absl::StatusOr<T> Get(std::string_view ns, std::string_view name);

  // Objects of one namespace, or of all namespaces when `ns` is empty (cluster-scoped kinds
  // require an empty `ns`).
  template <typename T>
  absl::StatusOr<ObjectList<T>> List(std::string_view ns, const ListOptions& options = {});

  // Writes a new object and returns it as stored.
  template <typename T>
  absl::StatusOr<T> Create(const T& object);

  // Replaces the object's metadata and spec; returns it as stored (or, when the update
  // removed the last finalizer of an object being deleted, as it was when it went).
  template <typename T>
  absl::StatusOr<T> Update(const T& object);

  // Replaces only the object's status. kInvalidArgument for kinds without a status.
  template <typename T>
  absl::StatusOr<T> UpdateStatus(const T& object);

  // Deletes the object, or marks it deleted (see the rules above). OK when marked.
  template <typename T>
  absl::Status Delete(std::string_view ns, std::string_view name,
                      const DeleteOptions& options = {});

  // Binds a pending pod to a node, as Kubernetes' pods/binding subresource does: sets
  // spec.nodeName and the PodScheduled=True condition of the pod as stored, and nothing
  // else — so it skips the full read-validate-write of Update. Only `pod`'s identity is
  // read (namespace, name, resourceVersion, uid); other changes in the caller's copy are
  // not written. The write is a compare-and-swap on `pod`'s resourceVersion (on the stored
  // one when it is empty): kAborted if the pod changed since or its uid is not `pod`'s,
  // kFailedPrecondition if it is already assigned, kNotFound if it is gone,
  // kInvalidArgument for a bad node name, kDataLoss if the stored bytes are not a pod's.
  // Returns the resourceVersion the bound pod is stored at.
  absl::StatusOr<std::string> Bind(const api::v1::Pod& pod, std::string_view node_name);

  // ---- untyped core: the same operations on any registered kind's message. The typed
  // API is a thin layer over these; code that handles kinds it does not know at compile
  // time (garbage collector, manifest tools) calls them directly.

  // Fills `*out` (whose type selects the kind).
  absl::Status GetObject(std::string_view ns, std::string_view name,
                         google::protobuf::Message* out);
  // `append()` returns a fresh message of `prototype`'s type for each item.
  absl::StatusOr<ListMeta> ListObjects(const google::protobuf::Message& prototype,
                                       std::string_view ns, const ListOptions& options,
                                       absl::FunctionRef<google::protobuf::Message*()> append);
  // In place: on success `*object` holds the stored object; on error it is unspecified.
  // Every write of this client hands the object written to the first informer of this
  // process that reads it, which then skips decoding it (store::SharedBytes' decoded form);
  // for Create that is a copy of `*object`. kBytesOnly skips that copy: for an object
  // nobody watches (an Event). An object no informer has taken yet is extra memory: an
  // updated one sits beside the version the informer still holds, a created one is what
  // the informer will hold anyway, unless nobody watches its kind. So a client keeps at
  // most kMaxWaitingUpdated updated and kMaxWaitingCreated created objects waiting, and
  // takes the oldest back beyond that: its reader decodes.
  enum class Share { kDecoded, kBytesOnly };
  static constexpr size_t kMaxWaitingUpdated = 4096;
  static constexpr size_t kMaxWaitingCreated = 16384;
  absl::Status CreateObject(google::protobuf::Message* object, Share share = Share::kDecoded);
  absl::Status UpdateObject(google::protobuf::Message* object);
  absl::Status UpdateObjectStatus(google::protobuf::Message* object);
  absl::Status DeleteObject(const google::protobuf::Descriptor& type, std::string_view ns,
                            std::string_view name, const DeleteOptions& options = {});

  // The kind of a message type, or kInvalidArgument if the Scheme does not know it.
  absl::StatusOr<const api::Kind*> KindOf(const google::protobuf::Descriptor& type) const;

  // Service address allocation, as Kubernetes' API server does it. Creating a Service
  // (other than ExternalName) gives it a clusterIP from the range (spec.clusterIPs,
  // ipFamilies [IPv4] and ipFamilyPolicy SingleStack with it), unless it asks for "None"
  // (headless) or for a particular address; a NodePort or LoadBalancer Service gets a
  // nodePort for each port that names none. Each allocated address and port is reserved
  // in the store under /registry/ranges/ (serviceips/<ip>, servicenodeports/<port>), so
  // Clients sharing a store never hand out one twice. Deleting a Service, or an update
  // that drops a node port, gives back what it held at once; a reservation left behind
  // (its writer stopped between the two writes) is free again a minute after it was made,
  // once its Service is gone or no longer holds it.
  // An update keeps what was allocated: an empty clusterIP or nodePort is filled from the
  // stored Service, a changed clusterIP is refused ("may not change once set"), and ports
  // that become NodePorts are allocated. Errors, as Kubernetes words them:
  //   kInvalidArgument  spec.clusterIPs: Invalid value: ["10.0.0.1"]: failed to allocate IP
  //                     10.0.0.1: the provided IP (10.0.0.1) is not in the valid range. The
  //                     range of valid IPs is 10.96.0.0/12 — or "provided IP is already
  //                     allocated"; spec.ports[0].nodePort: Invalid value: 30080: provided
  //                     port is already allocated (or not in the valid range 30000-32767)
  //   kFailedPrecondition  failed to allocate a serviceIP (a nodePort): range is full
  // A failed create or update leaves no reservation behind.
  // SetServiceRanges: kInvalidArgument naming the bad field. Thread-safe, but call it
  // before the Client creates Services: addresses already given are not moved.
  absl::Status SetServiceRanges(const ServiceRanges& ranges);

  store::Store* store() const { return store_; }
  const api::Scheme* scheme() const { return scheme_; }
  Clock* clock() const { return clock_; }

 private:
  enum class UpdateMode { kMain, kStatus };
  struct Target;
  struct DeletePlan;

  absl::Status UpdateImpl(google::protobuf::Message* object, UpdateMode mode);
  absl::StatusOr<Target> Resolve(const google::protobuf::Descriptor& type, std::string_view ns,
                                 std::string_view name) const;
  absl::Status PrepareCreate(const api::Kind& kind, google::protobuf::Message* object);
  absl::Status AdmitPriority(api::v1::Pod& pod);
  absl::Status ExistingObjectError(const api::Kind& kind, const std::string& key,
                                   std::string_view name);
  absl::Status PrepareUpdate(const api::Kind& kind, const google::protobuf::Message& current,
                             UpdateMode mode, google::protobuf::Message* next) const;
  DeletePlan PlanDelete(const api::Kind& kind, const google::protobuf::Message& current,
                        const DeleteOptions& options) const;
  void NewUid(std::string* uid);  // written in place: a scratch object keeps its buffer
  std::string NewNameSuffix();
  uint64_t Random();
  // Service allocation (services.cc): fills what `service` needs, reserving it; returns
  // the reservation keys made, for ReleaseReservations when the write then fails.
  // `current` is the stored Service on an update, nullptr on a create.
  absl::StatusOr<std::vector<std::string>> AllocateServiceAddresses(
      api::v1::Service& service, const api::v1::Service* current);
  enum class Reservation { kHeldByAnother, kMade, kAlreadyOurs };
  absl::StatusOr<Reservation> Reserve(const std::string& key, const api::v1::ObjectMeta& owner);
  bool ReservationFree(const store::KeyValue& kv);
  void ReleaseReservations(const std::vector<std::string>& keys);
  // After a Service was written as `after` (nullptr: deleted), gives back what `before`
  // held and `after` does not. Nothing for other kinds.
  void ReleaseServiceAddresses(const google::protobuf::Message& before,
                               const google::protobuf::Message* after);

  // Attaches `object`, the object written as `bytes`, stamped with the write's `revision`,
  // for this process's first reader of those bytes (see CreateObject).
  enum class Write { kCreate, kUpdate };
  void ShareDecoded(Write write, const store::SharedBytes& bytes, int64_t revision,
                    std::unique_ptr<google::protobuf::Message> object);

  store::Store* const store_;
  const api::Scheme* const scheme_;
  Clock* const clock_;
  const std::unique_ptr<const internal::StringCheck> strings_;  // of the Scheme's kinds
  Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
  Mutex ranges_mu_;
  IPv4Cidr service_ips_ ABSL_GUARDED_BY(ranges_mu_);
  int32_t node_port_min_ ABSL_GUARDED_BY(ranges_mu_) = 30000;
  int32_t node_port_max_ ABSL_GUARDED_BY(ranges_mu_) = 32767;
  Mutex shared_mu_;
  // Per Write: the bytes written since the oldest whose object may still wait for a reader.
  std::deque<store::SharedBytes> waiting_[2] ABSL_GUARDED_BY(shared_mu_);
};

// ---------------------------------------------------------------- implementation

namespace internal {
template <typename T>
constexpr void CheckKindType() {
  static_assert(std::is_base_of_v<google::protobuf::Message, T>,
                "T must be a protobuf message registered as a kind");
}
}  // namespace internal

template <typename T>
absl::StatusOr<T> Client::Get(std::string_view ns, std::string_view name) {
  internal::CheckKindType<T>();
  T out;
  ORCH_RETURN_IF_ERROR(GetObject(ns, name, &out));
  return out;
}

template <typename T>
absl::StatusOr<ObjectList<T>> Client::List(std::string_view ns, const ListOptions& options) {
  internal::CheckKindType<T>();
  ObjectList<T> list;
  ORCH_ASSIGN_OR_RETURN(
      ListMeta meta,
      ListObjects(T::default_instance(), ns, options,
                  [&list]() -> google::protobuf::Message* { return &list.items.emplace_back(); }));
  list.resource_version = std::move(meta.resource_version);
  list.continue_token = std::move(meta.continue_token);
  return list;
}

template <typename T>
absl::StatusOr<T> Client::Create(const T& object) {
  internal::CheckKindType<T>();
  T out = object;
  ORCH_RETURN_IF_ERROR(CreateObject(&out));
  return out;
}

template <typename T>
absl::StatusOr<T> Client::Update(const T& object) {
  internal::CheckKindType<T>();
  T out = object;
  ORCH_RETURN_IF_ERROR(UpdateObject(&out));
  return out;
}

template <typename T>
absl::StatusOr<T> Client::UpdateStatus(const T& object) {
  internal::CheckKindType<T>();
  T out = object;
  ORCH_RETURN_IF_ERROR(UpdateObjectStatus(&out));
  return out;
}

template <typename T>
absl::Status Client::Delete(std::string_view ns, std::string_view name,
                            const DeleteOptions& options) {
  internal::CheckKindType<T>();
  return DeleteObject(*T::descriptor(), ns, name, options);
}

}  // namespace orch::client

#endif  // ORCH_CLIENT_CLIENT_H_
